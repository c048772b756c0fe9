// MQTT topic names of the contract (docs/contract.md#mqtt-topics).
export const DEFAULT_TOPIC_PREFIX = 'vending'

/** Machine ids are 1–64 of [A-Za-z0-9_-]: safe in a topic level, a client id and a URL. */
export const MACHINE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/

export type MachineChannel = 'sale' | 'telemetry' | 'status' | 'display' | 'audit'
export const MACHINE_CHANNELS: readonly MachineChannel[] = ['sale', 'telemetry', 'status', 'display', 'audit']

/** bytes; an EVA-DTS audit (raw DEX/UCS bytes on `{prefix}/{id}/audit`) may be this large, on that topic only. */
export const AUDIT_MAX_BYTES = 256 * 1024

export function isMachineId(id: string): boolean {
  return MACHINE_ID_PATTERN.test(id)
}

export function machineTopic(prefix: string, machineId: string, channel: MachineChannel): string {
  return `${prefix}/${machineId}/${channel}`
}

/** The gateway's subscription filter for one channel of every machine. */
export function fleetFilter(prefix: string, channel: MachineChannel): string {
  return `${prefix}/+/${channel}`
}

export interface ParsedTopic {
  machineId: string
  channel: MachineChannel
}

/** Reads `{prefix}/{id}/{channel}`; null for anything else (wrong prefix, bad id, extra levels). */
export function parseMachineTopic(prefix: string, topic: string): ParsedTopic | null {
  const parts = topic.split('/')
  if (parts.length !== 3 || parts[0] !== prefix) return null
  const [, machineId, channel] = parts as [string, string, string]
  if (!isMachineId(machineId)) return null
  if (!(MACHINE_CHANNELS as readonly string[]).includes(channel)) return null
  return { machineId, channel: channel as MachineChannel }
}
