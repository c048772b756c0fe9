import { describe, expect, it } from 'vitest'
import { parseAudit } from '../../gateway/audit/audit-parser.js'
import { countBetween } from '../../gateway/audit/reconcile.js'
import { AuditCounters } from '../../device-sim/audit-counters.js'

const water = { sku: 'A01', name: 'Вода', price: 8000, qty: 2, vat: 'vat22' as const }
const coffee = { sku: 'C01', name: 'Кофе', price: 12000, qty: 1, vat: 'vat22' as const }

function read(counters: AuditCounters, at = new Date('2026-11-28T10:15:00Z')) {
  const r = parseAudit(counters.render(at))
  if (!r.ok) throw new Error(r.reason)
  return r.audit
}

describe('the simulator\'s EVA-DTS counters', () => {
  it('writes an audit whose G85 verifies, with CR LF line ends and the machine in ID1', () => {
    const bytes = new AuditCounters({ machineId: 'VM-001' }).render(new Date('2026-11-28T10:15:00Z'))
    const text = Buffer.from(bytes).toString('latin1')
    expect(text.split('\r\n').every((l) => !l.includes('\n'))).toBe(true)
    const a = parseAudit(bytes)
    expect(a.ok && a.audit).toMatchObject({ crc: 'ok', crcVariant: 'msb-first', complete: true, currency: 'RUB', warnings: [] })
    expect(a.ok && a.audit.elements.ID105).toBe('VM-001')
  })

  it('counts every vend, published or offline, by payment, and the gateway reads the same figures', () => {
    const c = new AuditCounters({ machineId: 'VM-002', start: { paid: { value: 0, count: 0 }, cash: { value: 0, count: 0 }, cashless: { value: 0, count: 0 } } })
    const before = read(c)
    c.record([water, coffee], 'card')
    c.record([coffee], 'cash')
    const after = read(c)
    expect(after.elements).toMatchObject({ VA101: 40000, VA102: 4, CA201: 12000, CA202: 1, DA201: 28000, DA202: 3 })
    expect(after.products).toEqual([{ id: 'A01', price: 8000, name: null, pa2: [2, 16000] }, { id: 'C01', price: 12000, name: null, pa2: [2, 24000] }])
    expect(countBetween(before, after, 60)).toMatchObject({ kind: 'counted', counted: { total: { value: 40000, count: 4 }, cash: { value: 12000, count: 1 } } })
  })

  it('restarts CA202 at 0 past its 6 digits, as the standard says, and the gateway counts across it', () => {
    const c = new AuditCounters({ machineId: 'VM-003', start: { paid: { value: 0, count: 999_999 }, cash: { value: 0, count: 999_999 }, cashless: { value: 0, count: 0 } } })
    const before = read(c)
    c.record([coffee], 'cash')
    c.record([coffee], 'cash')
    const after = read(c)
    expect(after.elements.CA202).toBe(1)
    expect(countBetween(before, after, 60)).toMatchObject({ kind: 'counted', counted: { cash: { value: 24000, count: 2 } }, wraps: ['CA202 wrapped at 1000000'] })
  })
})
