import { describe, expect, it } from 'vitest'
import { parseAudit } from '../../gateway/audit/audit-parser.js'
import type { ParsedAudit } from '../../gateway/audit/audit.types.js'
import { counterDelta } from '../../gateway/audit/counter-delta.js'
import { correctionAmounts, countBetween, difference, verdictOf } from '../../gateway/audit/reconcile.js'

/** An audit with the given segments (no G85: the arithmetic does not care). */
function audit(...segments: string[]): ParsedAudit {
  const r = parseAudit(new TextEncoder().encode(['DXS*SIM0000001*VA*V0/6*1', ...segments, 'DXE*1*1', ''].join('\r\n')))
  if (!r.ok) throw new Error(r.reason)
  return r.audit
}
const sim = (va: string, ca: string, da: string, extra: string[] = []) => audit('ID1*SIM0000001*SIM-1*1', `VA1*${va}`, `CA2*${ca}`, `DA2*${da}`, ...extra)

describe('lifetime counter deltas', () => {
  it('is the plain difference when the counter grew', () => {
    expect(counterDelta(100, 250, 8, 1000)).toEqual({ delta: 150, wrappedAt: null })
  })

  it('crosses the decimal limit of the element (CA202 has 6 digits)', () => {
    expect(counterDelta(999_990, 5, 6, 1000)).toEqual({ delta: 15, wrappedAt: 1_000_000 })
  })

  it('finds a binary wrap: 65435 then 31 is 132 vends (EVA-DTS 6.2 §5.3.6)', () => {
    expect(counterDelta(65_435, 31, 8, 1000)).toEqual({ delta: 132, wrappedAt: 65_536 })
  })

  it('gives null for a fall no plausible wrap explains (a reset or a new board)', () => {
    expect(counterDelta(5000, 10, 8, 1000)).toBeNull()
  })
})

describe('what the machine counted between two audits', () => {
  it('splits the paid vends into cash and cashless, in kopecks', () => {
    const c = countBetween(sim('10000*10', '6000*6', '4000*4'), sim('25500*22', '12500*13', '13000*9'), 3600)
    expect(c).toMatchObject({ kind: 'counted', counted: { total: { value: 15500, count: 12 }, cash: { value: 6500, count: 7 }, cashless: { value: 9000, count: 5 } }, wraps: [] })
  })

  it('scales whole-unit files (ID401 = 0) to kopecks', () => {
    const c = countBetween(audit('ID1*SIM0000001', 'ID4*0', 'VA1*100*10'), audit('ID1*SIM0000001', 'ID4*0', 'VA1*130*13'), 3600)
    expect(c.kind === 'counted' && c.counted.total).toEqual({ value: 3000, count: 3 })
  })

  it('counts across a wrap of CA202 and says so', () => {
    const c = countBetween(sim('1000*10', '900*999999', '100*1'), sim('1300*13', '1200*2', '100*1'), 3600)
    expect(c).toMatchObject({ kind: 'counted', counted: { cash: { value: 300, count: 3 } }, wraps: ['CA202 wrapped at 1000000'] })
  })

  it('starts a new baseline, not an alarm, when the serial, the initialisation date or the software changes', () => {
    expect(countBetween(sim('1*1', '1*1', '0*0'), audit('ID1*SIM0000002*SIM-1*1', 'VA1*0*0'), 60)).toEqual({ kind: 'baseline', reason: 'serial (ID101) changed: SIM0000001 → SIM0000002' })
    expect(countBetween(sim('1*1', '1*1', '0*0', ['EA4*20260101']), sim('1*1', '1*1', '0*0', ['EA4*20261201']), 60).kind).toBe('baseline')
    expect(countBetween(sim('1*1', '1*1', '0*0', ['CB1*B1*M*1.0']), sim('2*2', '2*2', '0*0', ['CB1*B1*M*1.1']), 60))
      .toEqual({ kind: 'baseline', reason: 'board software (CB103) changed: 1.0 → 1.1' })
  })

  it('starts a new baseline when a lifetime counter falls with no plausible wrap', () => {
    expect(countBetween(sim('500000*5000', '1*1', '0*0'), sim('100*1', '1*1', '0*0'), 60)).toMatchObject({ kind: 'baseline' })
  })

  it('says the profile is unknown rather than guess for a maker it does not know', () => {
    const jofemar = (v: string) => audit('ID1*JOF1234567*Coffeemar G250', `VA1*${v}`)
    expect(countBetween(jofemar('1*1'), jofemar('2*2'), 60)).toEqual({ kind: 'profile_unknown', reason: 'no counter profile for maker JOF model Coffeemar G250' })
  })

  it('counts VA1 alone for a model whose products include free vends (N&W Kikko)', () => {
    const kikko = (va: string) => audit('ID1*XYZ0000001*Kikko ES6', `VA1*${va}`, 'VA3*0*40*0*40', 'PA1*1*50', 'PA2*70*3500')
    const c = countBetween(kikko('3000*60'), kikko('3500*70'), 3600)
    expect(c).toMatchObject({ kind: 'counted', profile: { name: 'nw-kikko', productsIncludeFree: true }, counted: { total: { value: 500, count: 10 }, cash: null, cashless: null } })
  })

  it('nets card discounts for a maker counting VA1 net of them (FAG)', () => {
    const fag = (va: string, da: string, da5: string) => audit('ID1*FAG0000001*EAGLE', `VA1*${va}`, 'CA2*0*0', `DA2*${da}`, `DA5*0*0*${da5}`)
    const c = countBetween(fag('1000*10', '1000*10', '0'), fag('1900*19', '2000*19', '100'), 3600)
    expect(c.kind === 'counted' && c.counted.cashless).toEqual({ value: 900, count: 9 })
  })
})

describe('verdict and correction amounts', () => {
  const counted = { total: { value: 15500, count: 12 }, cash: { value: 6500, count: 7 }, cashless: { value: 9000, count: 5 } }

  it('finds the cash vends without a receipt', () => {
    const d = difference(counted, { total: { value: 12500, count: 10 }, cash: { value: 3500, count: 5 }, cashless: { value: 9000, count: 5 } })
    expect(d).toEqual({ total: { value: 3000, count: 2 }, cash: { value: 3000, count: 2 }, cashless: { value: 0, count: 0 } })
    expect(verdictOf(d, false)).toBe('unreceipted')
    expect(verdictOf(d, true)).toBe('corrected')
    expect(correctionAmounts(d)).toEqual({ total: 3000, cash: 3000, ecash: 0, vends: 2 })
  })

  it('is ok when every vend has its receipt, over when receipts exceed the vends', () => {
    expect(verdictOf(difference(counted, counted), false)).toBe('ok')
    expect(verdictOf(difference(counted, { ...counted, total: { value: 16000, count: 13 }, cash: { value: 7000, count: 8 } }), false)).toBe('over')
  })

  it('never sets one payment kind against another: cash vends without a receipt beside a card receipt too many', () => {
    // 5,000 of cash vends got no receipt; one card sale was receipted twice (1,000 too many).
    const d = difference(counted, { total: { value: 11500, count: 9 }, cash: { value: 1500, count: 2 }, cashless: { value: 10000, count: 7 } })
    expect(d.total).toEqual({ value: 4000, count: 3 })
    expect(verdictOf(d, false)).toBe('unreceipted')
    expect(correctionAmounts(d)).toEqual({ total: 5000, cash: 5000, ecash: 0, vends: 5 })
    // Net zero is still 3,000 of cash without a receipt.
    const even = difference(counted, { total: { value: 15500, count: 12 }, cash: { value: 3500, count: 5 }, cashless: { value: 12000, count: 7 } })
    expect(verdictOf(even, false)).toBe('unreceipted')
    expect(correctionAmounts(even)).toEqual({ total: 3000, cash: 3000, ecash: 0, vends: 2 })
    // A cashless figure the profile does not count is the total less cash.
    expect(correctionAmounts({ ...d, cashless: null })).toEqual({ total: 5000, cash: 5000, ecash: 0, vends: 5 })
  })

  it('is over, not unreceipted, when no payment kind is short and one has receipts too many', () => {
    const d = difference(counted, { ...counted, cashless: { value: 10000, count: 6 }, total: { value: 16500, count: 13 } })
    expect(verdictOf(d, false)).toBe('over')
    expect(correctionAmounts(d)).toEqual({ total: 0, cash: 0, ecash: 0, vends: 0 })
  })

  it('puts the whole amount in cash when the audit does not split payments', () => {
    expect(correctionAmounts({ total: { value: 700, count: 1 }, cash: null, cashless: null })).toEqual({ total: 700, cash: 700, ecash: 0, vends: 1 })
  })
})
