import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { SaleEventSchema, saleTotal } from '../../protocol/index.js'
import { createSaleGenerator, DEFAULT_CATALOGUE, loadCatalogue } from '../../device-sim/catalogue.js'
import { seededRandom } from '../../device-sim/random.js'

const dir = await mkdtemp(join(tmpdir(), 'device-sim-catalogue-'))
afterAll(() => rm(dir, { recursive: true, force: true }))

describe('sale generation', () => {
  it('makes sales that pass the SaleEvent contract, with the total in kopecks', () => {
    const generate = createSaleGenerator(DEFAULT_CATALOGUE, seededRandom(1))
    for (let i = 0; i < 200; i++) {
      const sale = generate(new Date('2026-11-28T12:21:05.123Z'))
      expect(SaleEventSchema.safeParse(sale).success).toBe(true)
      expect(sale.items.length).toBeGreaterThanOrEqual(1)
      expect(sale.items.length).toBeLessThanOrEqual(3)
      expect(new Set(sale.items.map((i) => i.sku)).size).toBe(sale.items.length)
      for (const item of sale.items) expect([1, 2]).toContain(item.qty)
      expect(sale.payment.amount).toBe(saleTotal(sale.items))
      expect(Number.isInteger(sale.payment.amount)).toBe(true)
    }
  })

  it('repeats the same contents for the same seed but never the same saleId', () => {
    const at = new Date('2026-11-28T12:00:00Z')
    const a = createSaleGenerator(DEFAULT_CATALOGUE, seededRandom(7))
    const b = createSaleGenerator(DEFAULT_CATALOGUE, seededRandom(7))
    for (let i = 0; i < 20; i++) {
      const [x, y] = [a(at), b(at)]
      expect({ ...x, saleId: '' }).toEqual({ ...y, saleId: '' })
      expect(x.saleId).not.toBe(y.saleId)
    }
  })

  it('uses every payment method and more than one VAT rate', () => {
    const generate = createSaleGenerator(DEFAULT_CATALOGUE, seededRandom(3))
    const sales = Array.from({ length: 300 }, () => generate(new Date()))
    expect(new Set(sales.map((s) => s.payment.method))).toEqual(new Set(['card', 'cash', 'sbp']))
    expect(new Set(sales.flatMap((s) => s.items.map((i) => i.vat))).size).toBeGreaterThanOrEqual(3)
  })
})

describe('loadCatalogue', () => {
  it('reads a catalogue file', async () => {
    const path = join(dir, 'ok.json')
    await writeFile(path, JSON.stringify([{ sku: 'X1', name: 'Сок томатный 0,2 л', price: 7_500, vat: 'vat10' }]))
    expect(await loadCatalogue(path)).toEqual([{ sku: 'X1', name: 'Сок томатный 0,2 л', price: 7_500, vat: 'vat10' }])
  })

  it('refuses rubles instead of kopecks and names the field', async () => {
    const path = join(dir, 'rubles.json')
    await writeFile(path, JSON.stringify([{ sku: 'X1', name: 'Вода', price: 80.5, vat: 'vat22' }]))
    await expect(loadCatalogue(path)).rejects.toThrow(/rubles\.json: 0\.price/)
  })

  it('refuses an unknown VAT rate, a repeated sku and an empty list', async () => {
    const cases: [unknown, RegExp][] = [
      [[{ sku: 'X1', name: 'Вода', price: 8_000, vat: 'vat20' }], /0\.vat/],
      [[{ sku: 'X1', name: 'A', price: 1, vat: 'vat22' }, { sku: 'X1', name: 'B', price: 1, vat: 'vat22' }], /unique/],
      [[], /\(root\)/],
    ]
    for (const [json, error] of cases) {
      const path = join(dir, 'bad.json')
      await writeFile(path, JSON.stringify(json))
      await expect(loadCatalogue(path)).rejects.toThrow(error)
    }
  })
})
