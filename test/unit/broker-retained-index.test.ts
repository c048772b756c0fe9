import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { indexRetained, type RetainedPacket, type RetainedStore } from '../../broker/retained-index.js'

// The index in front of a store that records what reaches it: exact topics must never cost a scan.

function fakeStore() {
  const scans: string[][] = []
  const stored: RetainedPacket[] = []
  const store: RetainedStore = {
    storeRetained: (packet) => { stored.push(packet); return Promise.resolve() },
    createRetainedStreamCombi: (patterns) => {
      scans.push(patterns)
      return Readable.from(patterns.map((p) => ({ topic: p, payload: Buffer.from('scanned') })))
    },
  }
  return { store: indexRetained(store), scans, stored }
}
const packet = (topic: string, payload: string): RetainedPacket => ({ topic, payload: Buffer.from(payload), retain: true, qos: 1, cmd: 'publish' })
const topicsOf = async (stream: Readable) => (await stream.toArray()).map((p: RetainedPacket) => `${p.topic} ${p.payload.toString()}`)

describe('retained index', () => {
  it('answers a wildcard-free filter from the index without scanning the store', async () => {
    const { store, scans, stored } = fakeStore()
    await store.storeRetained(packet('vending/A/status', 'online'))
    await store.storeRetained(packet('vending/B/status', 'online'))
    expect(stored).toHaveLength(2) // the store still keeps everything, for wildcard filters
    expect(await topicsOf(store.createRetainedStreamCombi(['vending/B/status', 'vending/C/status']))).toEqual(['vending/B/status online'])
    expect(scans).toEqual([])
  })

  it('forgets a topic whose retained message is cleared by an empty payload', async () => {
    const { store } = fakeStore()
    await store.storeRetained(packet('vending/A/status', 'online'))
    await store.storeRetained(packet('vending/A/status', ''))
    expect(await topicsOf(store.createRetainedStreamCombi(['vending/A/status']))).toEqual([])
  })

  it('keeps the latest message of a topic', async () => {
    const { store } = fakeStore()
    await store.storeRetained(packet('vending/A/status', 'online'))
    await store.storeRetained(packet('vending/A/status', 'offline'))
    expect(await topicsOf(store.createRetainedStreamCombi(['vending/A/status']))).toEqual(['vending/A/status offline'])
  })

  it('passes only the wildcard filters to the store, and answers both kinds together', async () => {
    const { store, scans } = fakeStore()
    await store.storeRetained(packet('vending/A/status', 'online'))
    const got = await topicsOf(store.createRetainedStreamCombi(['vending/A/status', 'vending/+/status', 'vending/#']))
    expect(got).toEqual(['vending/A/status online', 'vending/+/status scanned', 'vending/# scanned'])
    expect(scans).toEqual([['vending/+/status', 'vending/#']])
  })

  it('passes the callback form of storeRetained through', async () => {
    const calls: unknown[] = []
    const store = indexRetained<RetainedStore>({
      storeRetained: (_p, cb) => { calls.push(cb); cb?.(null) },
      createRetainedStreamCombi: () => Readable.from([]),
    })
    const err = await new Promise((resolve) => store.storeRetained(packet('vending/A/status', 'x'), resolve))
    expect(err).toBeNull()
    expect(calls).toHaveLength(1)
  })
})
