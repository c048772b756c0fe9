// Rules for the strings of a sale (docs/contract.md, "Sales validation"). Every accepted string
// must be storable in PostgreSQL (text and jsonb refuse U+0000), encodable in CP866 (the FFD's
// string type) and shown exactly as signed: so no NUL, no lone surrogate, no control character
// (C0, DEL, C1, line and paragraph separators) and no bidirectional formatting character, which
// reorders what a page shows while the signed bytes keep the logical order.
import { z } from 'zod'

/** C0 controls (NUL included), DEL, C1 controls, U+2028/2029 and the bidi formatting characters. */
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/
const SURROGATE = /[\ud800-\udfff]/

const NAMES: Readonly<Record<number, string>> = {
  0x00: 'NUL', 0x07: 'BEL', 0x08: 'BS', 0x09: 'TAB', 0x0a: 'LF', 0x0d: 'CR', 0x1b: 'ESC', 0x7f: 'DEL',
  0x061c: 'ARABIC LETTER MARK', 0x200e: 'LEFT-TO-RIGHT MARK', 0x200f: 'RIGHT-TO-LEFT MARK',
  0x2028: 'LINE SEPARATOR', 0x2029: 'PARAGRAPH SEPARATOR', 0x202a: 'LEFT-TO-RIGHT EMBEDDING',
  0x202b: 'RIGHT-TO-LEFT EMBEDDING', 0x202c: 'POP DIRECTIONAL FORMATTING', 0x202d: 'LEFT-TO-RIGHT OVERRIDE',
  0x202e: 'RIGHT-TO-LEFT OVERRIDE', 0x2066: 'LEFT-TO-RIGHT ISOLATE', 0x2067: 'RIGHT-TO-LEFT ISOLATE',
  0x2068: 'FIRST STRONG ISOLATE', 0x2069: 'POP DIRECTIONAL ISOLATE',
}

const hex = (code: number) => `U+${code.toString(16).toUpperCase().padStart(4, '0')}`

/** Why a sale's string is refused (naming the character and its position), or null when it is fine. */
export function textProblem(text: string): string | null {
  if (!FORBIDDEN.test(text) && !SURROGATE.test(text)) return null
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) { i++; continue } // a pair: one astral character
      return `lone surrogate ${hex(code)} at position ${i}`
    }
    if (code >= 0xdc00 && code <= 0xdfff) return `lone surrogate ${hex(code)} at position ${i}`
    if (FORBIDDEN.test(text[i]!)) {
      const name = NAMES[code] ?? (code < 0x20 || (code >= 0x7f && code <= 0x9f) ? 'control character' : 'formatting character')
      return `forbidden character ${hex(code)} (${name}) at position ${i}`
    }
  }
  return null
}

const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

/**
 * The text with every character `textProblem` refuses written as `\uXXXX`: what we store and log
 * for text a device sent that was refused, so the record itself can always be written and read.
 */
export function escapeUnprintable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** A zod string of `min`–`max` characters that textProblem accepts. */
export function safeString(max: number, min = 1) {
  return z.string().min(min).max(max).superRefine((value, ctx) => {
    const problem = textProblem(value)
    if (problem !== null) ctx.addIssue({ code: 'custom', message: problem })
  })
}
