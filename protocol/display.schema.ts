import { z } from 'zod'

export const FiscalSummarySchema = z.strictObject({
  fn: z.string().regex(/^\d{16}$/),
  fd: z.int().min(1),
  // The fiscal sign is up to 4294967295: a string, never an int32.
  fp: z.string().regex(/^\d{1,10}$/),
  shift: z.int().min(0),
  receiptInShift: z.int().min(0),
  at: z.iso.datetime({ offset: true }),
  total: z.int().min(0),
  kind: z.enum(['sale', 'refund']),
})
export type FiscalSummary = z.infer<typeof FiscalSummarySchema>

export const ReceiptDisplaySchema = z.strictObject({
  v: z.literal(1),
  type: z.literal('receipt'),
  saleId: z.string().min(1).max(64),
  qr: z.string().min(1),
  url: z.string().min(1),
  fiscal: FiscalSummarySchema,
})
export type ReceiptDisplay = z.infer<typeof ReceiptDisplaySchema>

export const RejectedDisplaySchema = z.strictObject({
  v: z.literal(1),
  type: z.literal('rejected'),
  // A refused sale is answered with the saleId it carried, up to 256 characters (decode.ts).
  saleId: z.string().min(1).max(256),
  reason: z.string().min(1),
})
export type RejectedDisplay = z.infer<typeof RejectedDisplaySchema>

export const DisplayMessageSchema = z.discriminatedUnion('type', [ReceiptDisplaySchema, RejectedDisplaySchema])
export type DisplayMessage = z.infer<typeof DisplayMessageSchema>

/** The answer to an uploaded audit: stored (or already stored), or rejected with the reason. */
export const AuditDisplaySchema = z.strictObject({
  v: z.literal(1),
  type: z.literal('audit'),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  status: z.enum(['stored', 'rejected']),
  reason: z.string().min(1).optional(),
})
export type AuditDisplay = z.infer<typeof AuditDisplaySchema>

/** Everything a machine may find on its display topic: a sale's answer or an audit's. */
export const MachineDisplaySchema = z.discriminatedUnion('type', [ReceiptDisplaySchema, RejectedDisplaySchema, AuditDisplaySchema])
export type MachineDisplay = z.infer<typeof MachineDisplaySchema>
