import { z } from 'zod'

// Sales are stored by the broker process that holds the machine's connection; after each batch it
// tells the gateways which kassas have new work, over MQTT (through Redis to every broker): one
// message per batch and gateway, QoS 0. The gateways' pending-sales poll covers a lost one. `$`
// cannot occur in a machine id, so the topic never names a machine.
//
// One gateway per kassa is woken: the kassa's owner, a rendezvous hash of the kassa id over the
// live gateways (gateway-ring.ts). Woken all at once, every gateway tried to claim the kassa and
// all but one found the FN row locked (measured: the 3 × 3 cluster spent 2.6 × the CPU per sale of
// 1 × 1). A broker that knows no live gateway yet sends the kick to every gateway (`stored`), and
// each acts on the kassas it owns.

const GATEWAY_ID = /^[A-Za-z0-9_-]{1,32}$/

/** The kick to every gateway, or the one addressed to `gatewayId`. */
export function storedKickTopic(prefix: string, gatewayId?: string): string {
  return gatewayId === undefined ? `${prefix}/$gateway/stored` : `${prefix}/$gateway/stored/${gatewayId}`
}

/** Gateways announce themselves here every second (gateway-ring.ts); brokers and gateways listen. */
export function gatewayAliveTopic(prefix: string): string {
  return `${prefix}/$gateway/alive`
}

/** A kick topic addressed to one gateway: its id, else null. */
export function addressedKickGateway(prefix: string, topic: string): string | null {
  const head = `${storedKickTopic(prefix)}/`
  if (!topic.startsWith(head)) return null
  const id = topic.slice(head.length)
  return GATEWAY_ID.test(id) ? id : null
}

const StoredKickSchema = z.object({ v: z.literal(1), kassas: z.array(z.string().min(1).max(64)).max(10_000) })

export function encodeStoredKick(kassaIds: Iterable<string>): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, kassas: [...kassaIds] }))
}

/** The kassas a kick names; none for a payload that is not one. */
export function decodeStoredKick(payload: Uint8Array): string[] {
  try {
    const parsed = StoredKickSchema.safeParse(JSON.parse(Buffer.from(payload).toString('utf8')))
    return parsed.success ? parsed.data.kassas : []
  } catch {
    return []
  }
}

const GatewayAliveSchema = z.object({ v: z.literal(1), id: z.string().regex(GATEWAY_ID), leaving: z.boolean().optional() })

/** A gateway's heartbeat; `leaving` on a clean stop, so its kassas move at once. */
export function encodeGatewayAlive(id: string, leaving = false): Buffer {
  return Buffer.from(JSON.stringify(leaving ? { v: 1, id, leaving } : { v: 1, id }))
}

export function decodeGatewayAlive(payload: Uint8Array): { id: string; leaving: boolean } | null {
  try {
    const parsed = GatewayAliveSchema.safeParse(JSON.parse(Buffer.from(payload).toString('utf8')))
    return parsed.success ? { id: parsed.data.id, leaving: parsed.data.leaving ?? false } : null
  } catch {
    return null
  }
}
