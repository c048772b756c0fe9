import { Readable } from 'node:stream'
import type { Aedes } from 'aedes'

// aedes-persistence 11's in-memory store answers every SUBSCRIBE by testing each retained message
// against the filter (`retainedMessagesByPattern` in asyncPersistence.js). Every machine leaves one
// retained `status`, and every machine subscribes to its `display` on connect, so connecting N
// machines costs O(N²): measured with device-sim, 10,000 machines gave 9,560 connected and a 9.8 s
// p50; with this index, 10,000/10,000 and 1.1 ms. A wildcard-free filter matches only the topic
// equal to it, so its retained message is one Map lookup; filters with `+` or `#` (the gateway's
// `vending/+/status`) still go to the store's own scan.

/** The part of an Aedes persistence this index wraps (the in-memory `aedes-persistence`). */
export interface RetainedStore {
  storeRetained(packet: RetainedPacket, cb?: (err?: Error | null) => void): unknown
  createRetainedStreamCombi(patterns: string[]): Readable
}

export interface RetainedPacket {
  topic: string
  payload: Buffer | Uint8Array
  [key: string]: unknown
}

const hasWildcard = (filter: string): boolean => filter.includes('+') || filter.includes('#')

/**
 * Wraps `store` in place. It must be the only writer of retained messages, and wrapped before the
 * first one is stored (right after `aedes.listen()`, before any listener opens): the index is
 * authoritative for exact topics. Not for shared persistences (Redis, MongoDB), where other broker
 * nodes store retained messages this index never sees.
 */
export function indexRetained<T extends RetainedStore>(store: T): T {
  const byTopic = new Map<string, RetainedPacket>()
  const storeRetained = store.storeRetained.bind(store)
  const combi = store.createRetainedStreamCombi.bind(store)

  store.storeRetained = (packet, cb) => {
    // Same rule as the store: an empty payload deletes (MQTT-3.3.1-10); a shallow copy, as it keeps.
    if (packet.payload.length === 0) byTopic.delete(packet.topic)
    else byTopic.set(packet.topic, { ...packet })
    return cb ? storeRetained(packet, cb) : storeRetained(packet)
  }

  store.createRetainedStreamCombi = (patterns) => {
    const exact = patterns.filter((p) => !hasWildcard(p))
    const wild = patterns.filter(hasWildcard)
    const found = exact.flatMap((topic) => byTopic.get(topic) ?? [])
    if (wild.length === 0) return Readable.from(found)
    if (found.length === 0) return combi(wild)
    return Readable.from((async function* () {
      yield* found
      yield* combi(wild)
    })())
  }
  return store
}

/** Indexes the persistence `aedes.listen()` set up (Aedes' types do not declare `persistence`). */
export function indexBrokerRetained(aedes: Aedes): void {
  const { persistence } = aedes as unknown as { persistence: RetainedStore }
  indexRetained(persistence)
}
