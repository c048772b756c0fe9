import { describe, expect, it } from 'vitest'
import type { DisplayMessage } from '../../protocol/index.js'
import { MachineState, retryDelay, type RetryPolicy } from '../../device-sim/machine.js'

const noJitter: RetryPolicy = { initialMs: 2_000, maxMs: 30_000, factor: 2, jitter: 0 }

function receipt(saleId: string, fd: number, fn = '9999000000000000'): DisplayMessage {
  return {
    v: 1,
    type: 'receipt',
    saleId,
    qr: `t=20261128T1521&s=120.00&fn=${fn}&i=${fd}&fp=123&n=1`,
    url: `http://localhost:8080/r/${fn}/${fd}?fp=123`,
    fiscal: { fn, fd, fp: '123', shift: 1, receiptInShift: fd, at: '2026-11-28T15:21:05+03:00', total: 12000, kind: 'sale' },
  }
}
const rejected = (saleId: string): DisplayMessage => ({ v: 1, type: 'rejected', saleId, reason: 'payment.amount: wrong' })

/** A machine with one sale `s1` made at t=1000 and sent at once. */
function machineWithSale(policy = noJitter): MachineState {
  const m = new MachineState({ retry: policy, random: () => 0 })
  m.add('s1', '{"saleId":"s1"}', 1_000)
  m.markSent('s1', 1_000)
  return m
}

describe('MachineState', () => {
  it('keeps a new sale due at once until it is sent', () => {
    const m = new MachineState({ retry: noJitter })
    m.add('s1', 'payload', 1_000)
    expect(m.due(1_000).map((s) => s.saleId)).toEqual(['s1'])
    expect(m.markSent('s1', 1_000)).toBe('first')
    expect(m.due(1_000)).toEqual([])
    expect(m.pendingCount).toBe(1)
  })

  it('keeps a sale until its display message arrives, however long that takes', () => {
    const m = machineWithSale()
    let now = 1_000
    for (let i = 0; i < 20; i++) {
      now = m.due(now + 1e9)[0]!.nextRetryAt
      expect(m.markSent('s1', now)).toBe('republish')
    }
    expect(m.pendingCount).toBe(1)
    expect(m.pending()[0]).toMatchObject({ saleId: 's1', payload: '{"saleId":"s1"}', attempts: 21, firstSentAt: 1_000 })
  })

  it('republishes the same payload on schedule with exponential backoff capped at maxMs', () => {
    const m = machineWithSale()
    const waits: number[] = []
    let sentAt = 1_000
    for (let i = 0; i < 7; i++) {
      const next = m.pending()[0]!.nextRetryAt
      expect(m.due(next - 1)).toEqual([]) // not a moment early
      expect(m.due(next).map((s) => s.payload)).toEqual(['{"saleId":"s1"}'])
      waits.push(next - sentAt)
      m.markSent('s1', next)
      sentAt = next
    }
    expect(waits).toEqual([2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000])
  })

  it('shortens each wait by at most the jitter fraction', () => {
    const policy = { ...noJitter, jitter: 0.2 }
    expect(retryDelay(policy, 1, () => 0)).toBe(2_000)
    expect(retryDelay(policy, 1, () => 0.999999)).toBeCloseTo(1_600, 0)
    expect(retryDelay(policy, 10, () => 0.5)).toBe(27_000)
  })

  it('ends a sale at its first receipt and measures from when it was made', () => {
    const m = machineWithSale()
    const outcome = m.onDisplay(receipt('s1', 7), 1_250)
    expect(outcome).toMatchObject({ kind: 'receipt', latencyMs: 250, sale: { saleId: 's1', attempts: 1 } })
    expect(m.pendingCount).toBe(0)
    expect(m.due(1e12)).toEqual([])
    expect(m.markSent('s1', 2_000)).toBeNull()
  })

  it('calls the same receipt again a repeat, which is expected after a republish', () => {
    const m = machineWithSale()
    m.onDisplay(receipt('s1', 7), 1_250)
    expect(m.onDisplay(receipt('s1', 7), 3_500)).toEqual({ kind: 'repeat', saleId: 's1' })
  })

  it('calls a different fiscal document for a receipted sale a duplicate receipt', () => {
    const m = machineWithSale()
    m.onDisplay(receipt('s1', 7), 1_250)
    expect(m.onDisplay(receipt('s1', 8), 3_500)).toEqual({
      kind: 'duplicate',
      saleId: 's1',
      first: { fn: '9999000000000000', fd: 7 },
      second: { fn: '9999000000000000', fd: 8 },
    })
    // The same document number from another FN is another receipt too.
    expect(m.onDisplay(receipt('s1', 7, '9999000000000001'), 3_600)).toMatchObject({ kind: 'duplicate' })
  })

  it('ends a sale when it is rejected and treats a second rejection as a repeat', () => {
    const m = machineWithSale()
    expect(m.onDisplay(rejected('s1'), 1_100)).toMatchObject({ kind: 'rejected', latencyMs: 100 })
    expect(m.pendingCount).toBe(0)
    expect(m.onDisplay(rejected('s1'), 1_200)).toEqual({ kind: 'repeat', saleId: 's1' })
  })

  it('reports a receipt after a rejection, or the reverse, as a conflict', () => {
    const m = machineWithSale()
    m.add('s2', 'p2', 1_000)
    m.onDisplay(rejected('s1'), 1_100)
    m.onDisplay(receipt('s2', 1), 1_100)
    expect(m.onDisplay(receipt('s1', 2), 1_200)).toEqual({ kind: 'conflict', saleId: 's1' })
    expect(m.onDisplay(rejected('s2'), 1_200)).toEqual({ kind: 'conflict', saleId: 's2' })
  })

  it('calls an answer to a sale it never made unknown', () => {
    const m = machineWithSale()
    expect(m.onDisplay(receipt('other', 1), 1_100)).toEqual({ kind: 'unknown', saleId: 'other' })
    expect(m.pendingCount).toBe(1)
  })

  it('forgets the oldest answered sales beyond its limit', () => {
    const m = new MachineState({ retry: noJitter, answeredLimit: 2 })
    for (const id of ['a', 'b', 'c']) {
      m.add(id, id, 0)
      m.onDisplay(receipt(id, 1), 1)
    }
    expect(m.onDisplay(receipt('a', 1), 2).kind).toBe('unknown')
    expect(m.onDisplay(receipt('c', 1), 2).kind).toBe('repeat')
  })

  it('refuses a saleId it already holds', () => {
    const m = machineWithSale()
    expect(() => m.add('s1', 'again', 2_000)).toThrow(/already exists/)
  })

  it('takes back stored sales as due at once, with their backoff where it was', () => {
    const m = new MachineState({ retry: noJitter, random: () => 0 })
    m.restore([{ saleId: 's9', payload: 'p9', createdAt: 10, firstSentAt: 10, attempts: 3, nextRetryAt: 99_999 }], 5_000)
    const [sale] = m.due(5_000)
    expect(sale).toMatchObject({ saleId: 's9', restored: true, attempts: 3 })
    expect(m.markSent('s9', 5_000)).toBe('republish')
    expect(m.pending()[0]!.nextRetryAt).toBe(5_000 + 16_000) // the 4th copy waits 2 s · 2³
    expect(m.onDisplay(receipt('s9', 1), 6_000)).toMatchObject({ kind: 'receipt', sale: { restored: true } })
  })

  describe('republish window', () => {
    /** 30 sales sent at t=0 and never answered; every first copy is out. */
    function backlog(window = 10): MachineState {
      const m = new MachineState({ retry: noJitter, random: () => 0, republishWindow: window })
      for (let i = 0; i < 30; i++) {
        m.add(`s${i}`, `p${i}`, 0)
        m.markSent(`s${i}`, 0)
      }
      return m
    }
    const sendAll = (m: MachineState, now: number) => m.due(now).map((s) => (m.markSent(s.saleId, now), s.saleId))

    it('republishes at most the window of due sales, then one probe per backoff step', () => {
      const m = backlog()
      // All 30 are due at 2 s; the window lets the 10 oldest go.
      expect(sendAll(m, 2_000)).toEqual(Array.from({ length: 10 }, (_, i) => `s${i}`))
      // Credit spent: one probe (the least recently sent due sale), then waits of 2 s, 4 s, 8 s …
      expect(sendAll(m, 2_000)).toEqual(['s10'])
      expect(sendAll(m, 3_999)).toEqual([])
      expect(sendAll(m, 4_000)).toEqual(['s11'])
      expect(sendAll(m, 7_999)).toEqual([])
      expect(sendAll(m, 8_000)).toEqual(['s12'])
      expect(m.pendingCount).toBe(30)
    })

    it('probes every unanswered sale in turn while no answer comes', () => {
      const m = new MachineState({ retry: { ...noJitter, maxMs: 4_000 }, random: () => 0, republishWindow: 1 })
      for (let i = 0; i < 5; i++) {
        m.add(`s${i}`, `p${i}`, 0)
        m.markSent(`s${i}`, 0)
      }
      const probed: string[] = []
      for (let now = 0; now <= 60_000; now += 100) probed.push(...sendAll(m, now))
      expect(probed.length).toBeGreaterThanOrEqual(10)
      // Round robin: each sale once in every five copies.
      for (let i = 0; i + 5 <= probed.length; i += 5) expect(new Set(probed.slice(i, i + 5)).size).toBe(5)
    })

    it('refuses a window that is not a positive integer', () => {
      expect(() => new MachineState({ republishWindow: 0 })).toThrow(/positive integer/)
      expect(() => new MachineState({ republishWindow: Number.NaN })).toThrow(/positive integer/)
    })

    it('earns two copies back per answer, up to the window, and probes at once again after an answer', () => {
      const m = backlog()
      sendAll(m, 2_000)
      sendAll(m, 2_000) // the probe
      expect(m.onDisplay(receipt('s0', 1), 2_100).kind).toBe('receipt')
      expect(sendAll(m, 2_100)).toEqual(['s11', 's12'])
      for (let i = 1; i <= 9; i++) m.onDisplay(receipt(`s${i}`, i + 1), 2_200)
      expect(sendAll(m, 2_200)).toHaveLength(10) // 18 copies earned, capped at the window
    })

    it('never holds back a sale not yet sent', () => {
      const m = backlog(1)
      sendAll(m, 2_000) // window of 1 spent
      sendAll(m, 2_000) // and the probe
      m.add('new', 'p', 2_001)
      expect(sendAll(m, 2_001)).toEqual(['new'])
    })
  })
})
