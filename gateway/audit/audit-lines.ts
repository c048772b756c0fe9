// The envelope of an EVA-DTS report as real uploads carry it: junk before `DXS` and after `DXE`,
// CR LF or bare LF line ends, `^hh^` escapes inside elements (EVA-DTS 6.2 §2.3.2.1).
import type { Segment } from './audit.types.js'

export interface Line {
  /** Byte offset of the line's first byte. */
  offset: number
  /** The line without its CR LF / LF, as latin1 text (one char per byte). */
  text: string
}

export type Envelope =
  | { ok: true; lines: Line[]; skippedBefore: number; skippedAfter: number; lfOnly: boolean; complete: boolean }
  | { ok: false; reason: string }

/** Finds DXS at the start of a line and reads lines up to and including DXE (or the end: a truncated file). */
export function readEnvelope(bytes: Uint8Array): Envelope {
  if (bytes.length === 0) return { ok: false, reason: 'empty audit' }
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
  const start = text.startsWith('DXS*') ? 0 : text.indexOf('\nDXS*') + 1
  if (start === 0 && !text.startsWith('DXS*')) return { ok: false, reason: 'no DXS header: not an EVA-DTS audit' }
  const lines: Line[] = []
  let at = start
  let complete = false
  let sawCr = false
  let sawBareLf = false
  while (at < text.length) {
    const nl = text.indexOf('\n', at)
    const end = nl === -1 ? text.length : nl
    const hasCr = end > at && text.charCodeAt(end - 1) === 0x0d
    if (nl !== -1) {
      if (hasCr) sawCr = true
      else sawBareLf = true
    }
    const line = text.slice(at, hasCr ? end - 1 : end)
    const bad = /[\x00-\x08\x0b-\x1f\x7f]/.exec(line)
    if (bad) {
      return { ok: false, reason: `control character 0x${bad[0].charCodeAt(0).toString(16).padStart(2, '0')} in line ${lines.length + 1} after DXS` }
    }
    lines.push({ offset: at, text: line })
    at = nl === -1 ? text.length : nl + 1
    if (line.startsWith('DXE*') || line === 'DXE') {
      complete = true
      break
    }
  }
  const rest = text.slice(at)
  return { ok: true, lines, skippedBefore: start, skippedAfter: rest.trim().length === 0 ? 0 : rest.length, lfOnly: sawBareLf && !sawCr, complete }
}

const ESCAPE = /\^([0-9A-Fa-f]{2})\^/g
const cp1251 = new TextDecoder('windows-1251')

/** `^2A^` → `*`; bytes ≥ 0x80 are read as CP1251 (Russian machines escape names that way). */
export function unescapeElement(raw: string): string {
  if (!raw.includes('^')) return raw
  const latin1 = raw.replace(ESCAPE, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))
  return /[\x80-\xff]/.test(latin1) ? cp1251.decode(Buffer.from(latin1, 'latin1')) : latin1
}

export function toSegment(line: string): Segment {
  const [id = '', ...elements] = line.split('*')
  return { id: id.trim(), elements: elements.map(unescapeElement) }
}
