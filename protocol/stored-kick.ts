import { z } from 'zod'
import { PAYMENT_METHODS, SALE_MAX_ITEMS, VAT_RATES, type PaymentMethod, type SaleItem } from './sale.schema.js'

// Sales are stored by the broker process that holds the machine's connection; after each batch it
// tells the gateways which kassas have new work, over MQTT (through Redis to every broker): one
// message per batch and gateway, QoS 0. The gateways' pending-sales poll covers a lost one. `$`
// cannot occur in a machine id, so the topic never names a machine.
//
// One gateway per kassa is woken: the kassa's owner, a rendezvous hash of the kassa id over the
// live gateways (gateway-ring.ts). Woken all at once, every gateway tried to claim the kassa and
// all but one found the FN row locked (measured: the 3 × 3 cluster spent 2.6 × the CPU per sale of
// 1 × 1). A broker that knows no live gateway yet sends the kick to every gateway (`stored`), and
// each acts on the kassas it owns.

const GATEWAY_ID = /^[A-Za-z0-9_-]{1,32}$/

/** The kick to every gateway, or the one addressed to `gatewayId`. */
export function storedKickTopic(prefix: string, gatewayId?: string): string {
  return gatewayId === undefined ? `${prefix}/$gateway/stored` : `${prefix}/$gateway/stored/${gatewayId}`
}

/** Gateways announce themselves here every second (gateway-ring.ts); brokers and gateways listen. */
export function gatewayAliveTopic(prefix: string): string {
  return `${prefix}/$gateway/alive`
}

/** A kick topic addressed to one gateway: its id, else null. */
export function addressedKickGateway(prefix: string, topic: string): string | null {
  const head = `${storedKickTopic(prefix)}/`
  if (!topic.startsWith(head)) return null
  const id = topic.slice(head.length)
  return GATEWAY_ID.test(id) ? id : null
}

/**
 * A sale as its batch stored it, with what its receipt needs of its machine (tags 1036, 1009,
 * 1187), named as its row's columns: the kick carries the batch's sales, so the kassa's owner can
 * sign them without reading them back (gateway/fiscalizer/fiscal-round.ts). The copy is a hint:
 * the write that receipts them commits only if each is still that kassa's pending sale, with that
 * saleId and total, in the table.
 */
export interface StoredSale {
  id: number
  kassa_id: string
  machine_id: string
  sale_id: string
  kind: 'sale' | 'refund'
  refund_of: string | null
  items: SaleItem[]
  payment_method: PaymentMethod
  total: number
  number: string
  address: string
  place: string
}

/** Sales in one kick at most: a broker's batch holds fewer. */
export const STORED_KICK_MAX_SALES = 10_000

const text = z.string().max(1024)
// The shape only: the broker storing them validated their content (sale.schema.ts) already.
const StoredSaleSchema = z.object({
  id: z.int().positive(),
  kassa_id: z.string().min(1).max(64),
  machine_id: z.string().min(1).max(64),
  sale_id: text,
  kind: z.enum(['sale', 'refund']),
  refund_of: text.nullable(),
  items: z.array(z.object({ sku: text, name: text, price: z.int(), qty: z.int(), vat: z.enum(VAT_RATES) })).min(1).max(SALE_MAX_ITEMS),
  payment_method: z.enum(PAYMENT_METHODS),
  total: z.int(),
  number: text,
  address: text,
  place: text,
})

const StoredKickSchema = z.object({
  v: z.literal(1),
  kassas: z.array(z.string().min(1).max(64)).max(10_000),
  sales: z.array(z.unknown()).max(STORED_KICK_MAX_SALES).optional(),
})

/** A kick naming `kassaIds`, with those kassas' sales just stored. */
export function encodeStoredKick(kassaIds: Iterable<string>, sales: readonly StoredSale[] = []): Buffer {
  return Buffer.from(JSON.stringify(sales.length === 0 ? { v: 1, kassas: [...kassaIds] } : { v: 1, kassas: [...kassaIds], sales }))
}

export interface StoredKick {
  kassas: string[]
  /** The stored sales it carries, of the kassas it names; a sale of another shape is left out. */
  sales: StoredSale[]
}

/** What a kick says; nothing for a payload that is not one. */
export function decodeStoredKick(payload: Uint8Array): StoredKick {
  try {
    const parsed = StoredKickSchema.safeParse(JSON.parse(Buffer.from(payload).toString('utf8')))
    if (!parsed.success) return { kassas: [], sales: [] }
    const named = new Set(parsed.data.kassas)
    const sales = (parsed.data.sales ?? []).flatMap((s) => {
      const sale = StoredSaleSchema.safeParse(s)
      return sale.success && named.has(sale.data.kassa_id) ? [sale.data as StoredSale] : []
    })
    return { kassas: parsed.data.kassas, sales }
  } catch {
    return { kassas: [], sales: [] }
  }
}

const GatewayAliveSchema = z.object({ v: z.literal(1), id: z.string().regex(GATEWAY_ID), leaving: z.boolean().optional() })

/** A gateway's heartbeat; `leaving` on a clean stop, so its kassas move at once. */
export function encodeGatewayAlive(id: string, leaving = false): Buffer {
  return Buffer.from(JSON.stringify(leaving ? { v: 1, id, leaving } : { v: 1, id }))
}

export function decodeGatewayAlive(payload: Uint8Array): { id: string; leaving: boolean } | null {
  try {
    const parsed = GatewayAliveSchema.safeParse(JSON.parse(Buffer.from(payload).toString('utf8')))
    return parsed.success ? { id: parsed.data.id, leaving: parsed.data.leaving ?? false } : null
  } catch {
    return null
  }
}
