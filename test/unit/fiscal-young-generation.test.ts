import { describe, expect, it } from 'vitest'
import { newFnState, signSales, type FnState } from '../../gateway/fiscal/index.js'
import { scavengesDuring } from '../../scripts/lib/young-generation.js'
import { FN, KASSA, SECRET, sale } from './fiscal-fixtures.js'

// Signing leaves nothing behind for the young generation's collections: a batch's documents die
// with the batch. When each document was made as `{ ...extra, fd, … }`, every one got a map of its
// own (scripts/spread-probe.ts), and each scavenge during signing found about 4 MB still alive
// and promoted 3 MB of it, for 9 ms a scavenge against under 2 (docs/performance.md).

describe('signing and the young generation', () => {
  it('promotes next to nothing while 20,000 sales are signed in batches of 200', () => {
    let state: FnState = newFnState({ fn: FN, model: 'fn-36', secret: SECRET, registeredAt: new Date('2026-01-15T00:00:00Z'), docLimit: 10_000_000 })
    const batch = Array.from({ length: 200 }, () => sale())
    for (let i = 0; i < 20; i++) state = signSales(state, KASSA, batch, new Date()).state

    let documents = 0
    const scavenges = scavengesDuring(() => {
      for (let i = 0; i < 100; i++) {
        const signed = signSales(state, KASSA, batch, new Date())
        documents += signed.documents.length
        state = signed.state
      }
    })

    expect(documents).toBeGreaterThanOrEqual(20_000)
    // About 11 KB allocated a sale: the young generation fills several times over.
    expect(scavenges.count).toBeGreaterThanOrEqual(3)
    expect(scavenges.promotedKiB).toBeLessThan(512)
    expect(scavenges.survivedKiB).toBeLessThan(1024)
  })
})
