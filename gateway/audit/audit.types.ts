// What the gateway reads from an EVA-DTS audit (DEX/UCS report). Pure data, no I/O.

/** One data segment: its block id (`VA1`) and its elements as written, escapes resolved. */
export interface Segment {
  id: string
  elements: string[]
}

/** `ok`: G85 verifies (either byte order, with or without the final CR LF); `absent`: no G85 to check. */
export type CrcStatus = 'ok' | 'bad' | 'absent'

/** Which form of the G85 check matched: the standard one, its byte-swapped pre-6.0 form, or the one without the final CR LF. */
export type CrcVariant = 'msb-first' | 'byte-swapped' | 'msb-first-no-final-crlf' | 'byte-swapped-no-final-crlf'

/** An element's value: integers for numeric fields, strings for identifiers, null when empty, absent or "unset" (4294967295). */
export type ElementValue = number | string | null

export interface AuditProduct {
  /** PA101: product or selection id. */
  id: string | null
  /** PA102, raw (implied decimals). */
  price: number | null
  /** PA103. */
  name: string | null
  /** PA201…PA2nn as written: paid count I, paid value I, paid count R, paid value R, … */
  pa2: ElementValue[]
}

/** The parts of a machine's identity whose change starts a new counter chain (a new baseline). */
export interface AuditIdentity {
  serial: string | null
  model: string | null
  build: string | null
  board: string | null
  boardBuild: string | null
  firmware: string | null
  initialisedAt: string | null
}

export interface ParsedAudit {
  crc: CrcStatus
  crcVariant: CrcVariant | null
  /** ID401, 2 when absent (EVA-DTS 6.2 §2.3.2.1). */
  decimals: number
  /** ID403, or ID402 as written when there is no alphabetic code; null when neither. */
  currency: string | null
  /** DXE present: the report is complete. */
  complete: boolean
  /** Every non-repeating block's elements by name (VA101, CA201 …); first occurrence wins. */
  elements: Record<string, ElementValue>
  products: AuditProduct[]
  identity: AuditIdentity
  /** Blocks this parser does not interpret, as written (MA5, SA2 …): kept, never dropped. */
  otherBlocks: string[]
  warnings: string[]
  segmentCount: number
}

export type AuditParse = { ok: true; audit: ParsedAudit } | { ok: false; reason: string }
