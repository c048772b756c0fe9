import { sql, type Kysely } from 'kysely'
import type { PaymentMethod } from '../../protocol/index.js'
import type { Database } from '../db/schema.js'

export interface StoredReceipt {
  fn: string
  fd: number
  fp: string
  type: number
  operation: number | null
  signed_at: Date
  shift: number
  receipt_in_shift: number | null
  total: number
  tlv: Uint8Array
  kassa_id: string
  kassa_name: string
  inn: string
  reg_number: string
  sno: string
  time_zone: string
  machine_id: string | null
  machine_number: string | null
  address: string | null
  place: string | null
  sale_id: string | null
  refund_of: string | null
  payment_method: PaymentMethod | null
  /** For a correction receipt: the reconciliation interval it corrects. */
  correction_interval: number | null
}

/** A fiscal document with what the receipt page shows beside it (items come from the signed document). */
export async function findReceipt(db: Kysely<Database>, fn: string, fd: number): Promise<StoredReceipt | null> {
  const rows = await sql<StoredReceipt>`
    select d.fn, d.fd, d.fp, d.type, d.operation, d.signed_at, d.shift, d.receipt_in_shift, d.total, d.tlv,
           k.id as kassa_id, k.name as kassa_name, k.inn, k.reg_number, k.sno, k.time_zone,
           m.id as machine_id, m.number as machine_number, m.address, m.place,
           s.sale_id, s.refund_of,
           coalesce(o.payment_method, s.payment_method) as payment_method, c.interval_audit_id as correction_interval
    from fiscal_documents d
    join kassas k on k.id = d.kassa_id
    left join sales s on s.id = d.sale_row_id
    left join audit_corrections c on d.type = 31 and c.fn = d.fn and c.fd = d.fd
    left join machines m on m.id = coalesce(s.machine_id, c.machine_id)
    left join sales o on s.kind = 'refund' and o.machine_id = s.machine_id and o.sale_id = s.refund_of
    where d.fn = ${fn} and d.fd = ${fd}`.execute(db)
  return rows.rows[0] ?? null
}
