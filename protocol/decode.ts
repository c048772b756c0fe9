import type { z } from 'zod'
import { SALE_MAX_BYTES, SaleEventSchema, saleTimeProblem, type SaleEvent } from './sale.schema.js'
import { escapeUnprintable } from './text.js'
import { StatusSchema, TelemetrySchema, type Status, type Telemetry } from './telemetry.schema.js'

/** A decoded payload, or the reason it was refused and the saleId when one could be read. */
export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string; saleId?: string }

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Beyond this a payload is not even parsed to look for a saleId. */
export const PARSE_LIMIT_BYTES = 256 * 1024
/** Longest saleId read from a refused payload to answer it (a valid one has at most 64 characters). */
export const SALE_ID_ANSWER_MAX = 256

/**
 * A decoded sale. One refused for its time alone still carries the sale as read (`late`): a copy
 * of a sale stored while its time was within the bounds is a repeat, whenever it comes.
 */
export type DecodedSale = Decoded<SaleEvent> | { ok: false; reason: string; saleId: string; late: SaleEvent }

/** Decodes a sale; with `now` (the gateway's clock) its time is checked too (saleTimeProblem). */
export function decodeSale(payload: Uint8Array, now?: Date): DecodedSale {
  const decoded = decodeJson(payload, SaleEventSchema, SALE_MAX_BYTES)
  if (!decoded.ok || now === undefined) return decoded
  const problem = saleTimeProblem(decoded.value.at, now)
  return problem === null ? decoded : { ok: false, reason: problem, saleId: decoded.value.saleId, late: decoded.value }
}

export function decodeTelemetry(payload: Uint8Array): Decoded<Telemetry> {
  return decodeJson(payload, TelemetrySchema, SALE_MAX_BYTES)
}

export function decodeStatus(payload: Uint8Array): Decoded<Status> {
  return decodeJson(payload, StatusSchema, 1024)
}

/** Reasons quote what the device sent (zod's unknown keys, JSON.parse's excerpt): written printable. */
function decodeJson<T>(payload: Uint8Array, schema: z.ZodType<T>, maxBytes: number): Decoded<T> {
  const decoded = decodeJsonRaw(payload, schema, maxBytes)
  return decoded.ok ? decoded : { ...decoded, reason: escapeUnprintable(decoded.reason) }
}

function decodeJsonRaw<T>(payload: Uint8Array, schema: z.ZodType<T>, maxBytes: number): Decoded<T> {
  if (payload.byteLength > PARSE_LIMIT_BYTES) {
    return { ok: false, reason: `payload too large: ${payload.byteLength} bytes (limit ${maxBytes})` }
  }
  let text: string
  try {
    text = utf8.decode(payload)
  } catch {
    return { ok: false, reason: 'payload is not valid UTF-8' }
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    return { ok: false, reason: `payload is not JSON: ${(err as Error).message}` }
  }
  const saleId = readableSaleId(json)
  const refused = (reason: string): Decoded<T> => (saleId === undefined ? { ok: false, reason } : { ok: false, reason, saleId })
  if (payload.byteLength > maxBytes) {
    return refused(`payload too large: ${payload.byteLength} bytes (limit ${maxBytes})`)
  }
  const duplicate = findDuplicateKey(text)
  if (duplicate !== null) return refused(`duplicate key "${duplicate}" in payload`)
  const result = schema.safeParse(json)
  if (!result.success) return refused(formatIssues(result.error.issues))
  return { ok: true, value: result.data }
}

function readableSaleId(json: unknown): string | undefined {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined
  const id = (json as Record<string, unknown>).saleId
  return typeof id === 'string' && id.length >= 1 && id.length <= SALE_ID_ANSWER_MAX ? id : undefined
}

/** "items.0.price: Too small: expected number to be >=1; v: Invalid input" — at most 5 issues. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  const shown = issues.slice(0, 5).map((issue) => {
    const path = issue.path.map(String).join('.')
    return path === '' ? issue.message : `${path}: ${issue.message}`
  })
  if (issues.length > shown.length) shown.push(`and ${issues.length - shown.length} more`)
  return shown.join('; ')
}

/**
 * JSON.parse keeps the last of duplicate keys silently, so `{"amount":1,"amount":100}` could
 * mean either. We refuse such payloads. `text` is known to be valid JSON here.
 */
export function findDuplicateKey(text: string): string | null {
  const stack: (Set<string> | null)[] = [] // a Set per open object, null per open array
  let expectKey = false
  // By char code, and a key without escapes is its raw text: a JSON.parse per key was most of the
  // cost of reading a sale (scripts/bench --profile).
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      let j = i + 1
      let escaped = false
      for (let d = text.charCodeAt(j); d !== QUOTE; d = text.charCodeAt(j)) {
        if (d === BACKSLASH) { escaped = true; j += 2 } else j += 1
      }
      const top = stack[stack.length - 1]
      if (expectKey && top) {
        const key = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j)
        if (top.has(key)) return key
        top.add(key)
        expectKey = false
      }
      i = j
    } else if (c === OPEN_OBJECT) {
      stack.push(new Set())
      expectKey = true
    } else if (c === OPEN_ARRAY) {
      stack.push(null)
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      stack.pop()
    } else if (c === COMMA) {
      expectKey = stack[stack.length - 1] != null
    }
  }
  return null
}

const [QUOTE, BACKSLASH, OPEN_OBJECT, OPEN_ARRAY, CLOSE_OBJECT, CLOSE_ARRAY, COMMA] = [...'"\\{[}],'].map((c) => c.charCodeAt(0)) as [number, number, number, number, number, number, number]
