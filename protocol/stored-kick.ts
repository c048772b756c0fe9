import { z } from 'zod'

// Sales are stored by the broker process that holds the machine's connection; after each batch it
// tells the gateways which kassas have new work, over MQTT (through Redis to every broker): one
// message per batch, QoS 0. The gateways' pending-sales poll covers a lost one. `$` cannot occur
// in a machine id, so the topic never names a machine.

export function storedKickTopic(prefix: string): string {
  return `${prefix}/$gateway/stored`
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
