import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { PAYMENT_METHODS, SaleItemSchema, saleTotal, type SaleEvent, type SaleItem } from '../protocol/index.js'
import { pick, randomInt, type Random } from './random.js'

/** A product a machine sells: a sale item without the quantity. */
export const CatalogueItemSchema = SaleItemSchema.omit({ qty: true })
export type CatalogueItem = z.infer<typeof CatalogueItemSchema>

export const CatalogueSchema = z.array(CatalogueItemSchema).min(1).refine(
  (items) => new Set(items.map((i) => i.sku)).size === items.length,
  'every sku must be unique',
)
export type Catalogue = readonly CatalogueItem[]

// Prices in kopecks. VAT 22% is the standard rate from 2026; some items carry the calculated rate
// (22/122) or the reduced 10% (children's and some food goods), so receipts show more than one rate.
export const DEFAULT_CATALOGUE: Catalogue = Object.freeze([
  { sku: 'A01', name: 'Вода питьевая 0,5 л', price: 8_000, vat: 'vat22' },
  { sku: 'A02', name: 'Вода газированная «Святой источник» 0,5 л', price: 9_500, vat: 'vat22' },
  { sku: 'A03', name: 'Сок яблочный 0,2 л', price: 7_000, vat: 'vat10' },
  { sku: 'A04', name: 'Молоко 3,2% 0,3 л', price: 8_900, vat: 'vat10' },
  { sku: 'B01', name: 'Шоколад «Алёнка» 100 г', price: 11_900, vat: 'vat22' },
  { sku: 'B02', name: 'Батончик мюсли 25 г', price: 6_500, vat: 'vat22' },
  { sku: 'B03', name: 'Печенье «Юбилейное» 112 г', price: 7_900, vat: 'vat22_122' },
  { sku: 'B04', name: 'Детское пюре яблоко 90 г', price: 5_500, vat: 'vat10' },
  { sku: 'C01', name: 'Кофе американо 200 мл', price: 12_000, vat: 'vat22' },
  { sku: 'C02', name: 'Кофе капучино 250 мл', price: 15_000, vat: 'vat22' },
  { sku: 'C03', name: 'Чай чёрный с сахаром 200 мл', price: 6_000, vat: 'vat22_122' },
  { sku: 'C04', name: 'Горячий шоколад 200 мл', price: 13_500, vat: 'vat22' },
])

/** Reads a catalogue JSON file (`--catalogue`): an array of { sku, name, price, vat }. */
export async function loadCatalogue(path: string): Promise<Catalogue> {
  let json: unknown
  try {
    json = JSON.parse(await readFile(path, 'utf8'))
  } catch (err) {
    throw new Error(`catalogue ${path}: ${(err as Error).message}`, { cause: err })
  }
  const parsed = CatalogueSchema.safeParse(json)
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    throw new Error(`catalogue ${path}: ${issues.join('; ')}`)
  }
  return parsed.data
}

/**
 * Makes sales of 1–3 distinct items, 1–2 of each. The PRNG decides only the contents: saleIds are
 * always random UUIDs, so two runs with the same seed never send the same saleId to a gateway that
 * remembers the first run (it would answer them as repeats).
 */
export function createSaleGenerator(catalogue: Catalogue, random: Random): (at: Date) => SaleEvent {
  if (catalogue.length === 0) throw new Error('the catalogue is empty')
  return (at) => {
    const count = Math.min(randomInt(random, 1, 3), catalogue.length)
    const chosen = new Map<string, CatalogueItem>()
    while (chosen.size < count) {
      const item = pick(random, catalogue)
      chosen.set(item.sku, item)
    }
    const items: SaleItem[] = [...chosen.values()].map((item) => ({ ...item, qty: randomInt(random, 1, 2) }))
    return {
      v: 1,
      saleId: randomUUID(),
      at: at.toISOString(),
      kind: 'sale',
      items,
      payment: { method: pick(random, PAYMENT_METHODS), amount: saleTotal(items) },
    }
  }
}
