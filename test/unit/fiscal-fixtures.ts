// Fixed inputs shared by the fiscal unit tests: one kassa, one machine, one FN secret.
import type { KassaIdentity, MachinePlace, SaleToSign } from '../../gateway/fiscal/index.js'
import type { SaleItem } from '../../protocol/index.js'

export const SECRET = new TextEncoder().encode('test-fn-secret-9999078900001234')
export const FN = '9999078900001234'

export const KASSA: KassaIdentity = {
  id: 'K1',
  name: 'ООО «Вендинг»',
  inn: '7707083893',
  regNumber: '0000000001012345',
  sno: 'usn_income',
  timeZone: 'Europe/Moscow',
}

export const MACHINE: MachinePlace = {
  number: 'VM-001',
  address: 'г. Москва, ул. Тверская, 1',
  place: 'Вестибюль, 1 этаж',
}

export const WATER: SaleItem = { sku: 'A12', name: 'Вода «Чистая» — 0,5 л', price: 12000, qty: 1, vat: 'vat22' }
export const BAR: SaleItem = { sku: 'B07', name: 'Батончик', price: 8550, qty: 2, vat: 'vat22_122' }

let rows = 0

export function sale(items: readonly SaleItem[] = [WATER], extra: Partial<SaleToSign> = {}): SaleToSign {
  rows += 1
  return {
    saleRowId: `row-${rows}`,
    machine: MACHINE,
    kind: 'sale',
    items,
    paymentMethod: 'card',
    total: items.reduce((n, i) => n + i.price * i.qty, 0),
    ...extra,
  }
}

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')
