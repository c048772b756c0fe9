import {
  AUDIT_MAX_BYTES, MACHINE_CHANNELS, addressedKickGateway, gatewayAliveTopic, isMachineId, machineTopic, parseMachineTopic, storedKickTopic,
  type MachineChannel,
} from '../protocol/index.js'

// Topic rules (docs/contract.md#logins-and-topic-rules): a machine speaks only for itself; the gateway's service
// user reads every machine's uplink and writes every machine's display. Pure: no I/O, no Aedes.

/** Who a connection is, fixed at login. */
export type Identity =
  | {
    kind: 'machine'; id: string
    /** the keyed hash of the secret it logged in with, to notice a rotation */
    secretHash: string
    /** the stored hash it was checked against, when that was a former (scrypt) hash rewritten since */
    checkedHash?: string
  }
  | { kind: 'service' }

const MACHINE_UPLINK: readonly MachineChannel[] = ['sale', 'telemetry', 'status', 'audit']

/** Between gateways and brokers (protocol/stored-kick.ts): kicks, to all or to one gateway, and heartbeats. */
function isGatewayTopic(prefix: string, topic: string): boolean {
  return topic === storedKickTopic(prefix) || topic === gatewayAliveTopic(prefix) || addressedKickGateway(prefix, topic) !== null
}

export function canPublish(prefix: string, who: Identity, topic: string): boolean {
  // Gateways announce themselves; kicks are published by the brokers themselves, never by a client.
  if (who.kind === 'service' && topic === gatewayAliveTopic(prefix)) return true
  const parsed = parseMachineTopic(prefix, topic)
  if (!parsed) return false // also refuses `$SYS/…`, wildcards and extra levels
  if (who.kind === 'service') return parsed.channel === 'display'
  return parsed.machineId === who.id && MACHINE_UPLINK.includes(parsed.channel)
}

/** A will is published on the machine's behalf after it is gone: only its own offline status. */
export function canSetWill(prefix: string, who: Identity, topic: string): boolean {
  if (who.kind === 'service') return canPublish(prefix, who, topic)
  return topic === machineTopic(prefix, who.id, 'status')
}

/** The payload cap of a machine's publish: the contract's 16 KiB, or 256 KiB on its own `audit` topic. */
export function machinePayloadLimit(prefix: string, who: Identity, topic: string | null, defaultLimit: number): number {
  if (who.kind !== 'machine' || topic === null) return defaultLimit
  return topic === machineTopic(prefix, who.id, 'audit') ? Math.max(defaultLimit, AUDIT_MAX_BYTES) : defaultLimit
}

/** Retained messages are for presence only; a retained sale would be replayed to every new subscriber. */
export function mayRetain(prefix: string, topic: string): boolean {
  return parseMachineTopic(prefix, topic)?.channel === 'status'
}

/**
 * A machine may subscribe to exactly its own display topic. The service user may use `+` for the
 * machine or the channel level (`vending/+/sale`), never `#` and never `$SYS`.
 */
export function canSubscribe(prefix: string, who: Identity, filter: string): boolean {
  if (who.kind === 'machine') return filter === machineTopic(prefix, who.id, 'display')
  if (isGatewayTopic(prefix, filter)) return true
  const levels = filter.split('/')
  if (levels.length !== 3 || levels[0] !== prefix) return false
  const [, machine, channel] = levels as [string, string, string]
  const machineOk = machine === '+' || isMachineId(machine)
  const channelOk = channel === '+' || (MACHINE_CHANNELS as readonly string[]).includes(channel)
  return machineOk && channelOk
}

/**
 * Checked per recipient on every delivery (Aedes' authorizeForward), so a subscription that slipped
 * through (a restored session, a future rule change) still cannot carry another machine's messages.
 */
export function canReceive(prefix: string, who: Identity, topic: string): boolean {
  if (who.kind === 'machine') return topic === machineTopic(prefix, who.id, 'display')
  return parseMachineTopic(prefix, topic) !== null || isGatewayTopic(prefix, topic)
}
