import { sql, type Kysely } from 'kysely'
import type { AtolSellRequest } from '../atol/atol.types.js'
import type { Database } from '../db/schema.js'

export interface StoredProviderReceipt {
  fn: string
  fd: number
  fp: string
  operation: number
  signed_at: Date
  shift: number
  receipt_in_shift: number
  total: number
  reg_number: string
  qr: string
  ofd_receipt_url: string | null
  kassa_name: string
  inn: string
  sno: string
  time_zone: string
  machine_id: string
  /** The body the provider signed: items, place and payments exactly as sent. */
  request: AtolSellRequest
}

/** A receipt a cloud kassa's FN signed, with the request it signed. */
export async function findProviderReceipt(db: Kysely<Database>, fn: string, fd: number): Promise<StoredProviderReceipt | null> {
  const rows = await sql<StoredProviderReceipt>`
    select p.fn, p.fd, p.fp, p.operation, p.signed_at, p.shift, p.receipt_in_shift, p.total, p.reg_number, p.qr, p.ofd_receipt_url,
           k.name as kassa_name, k.inn, k.sno, k.time_zone, s.machine_id, a.request
    from provider_receipts p
    join kassas k on k.id = p.kassa_id
    join sales s on s.id = p.sale_row_id
    join atol_attempts a on a.id = p.attempt_id
    where p.fn = ${fn} and p.fd = ${fd}`.execute(db)
  return rows.rows[0] ?? null
}
