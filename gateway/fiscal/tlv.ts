// FFD 1.2 TLV codec: tag uint16 LE, length uint16 LE, value (docs/fiscal.md §1.1). Canonical: one
// value has one encoding (no leading zero bytes, fields in the order given), so the same document
// always gives the same bytes and decode → encode returns the bytes it started from.
import { cp866Bytes, cp866Decode } from './cp866.js'
import { FFD_TAGS, TLV_MAX_LENGTH, type TlvType } from './ffd-tags.js'

/** An FVLN number: mantissa / 10^scale. Quantity 1 is { mantissa: 1, scale: 0 }. */
export interface FixedPoint {
  mantissa: number
  scale: number
}

export type TlvValue = number | string | Uint8Array | FixedPoint | readonly TlvField[]

export interface TlvField {
  readonly tag: number
  readonly value: TlvValue
}

/** A malformed TLV or a value its tag cannot hold. */
export class TlvError extends Error {
  override readonly name = 'TlvError'
}

/** Largest VLN: 6 bytes (money, kopecks). */
export const VLN_MAX = 2 ** 48 - 1

export function tlvField(tag: number, value: TlvValue): TlvField {
  return { tag, value }
}

function typeOf(tag: number): TlvType {
  const type = FFD_TAGS.get(tag)
  if (type === undefined) throw new TlvError(`tag ${tag} is not in the FFD tag table`)
  return type
}

/**
 * Where a document's bytes are written: one buffer, grown by doubling, whose bytes are copied out
 * once at the end. Small typed arrays per field made encoding 10× slower; a plain array of numbers
 * took 8 bytes of heap a byte, copied again as it grew, and was the largest part of what the gateway
 * allocated signing a receipt (docs/performance.md).
 */
class Sink {
  private bytes = new Uint8Array(1024)
  /** Bytes written; the next one goes here. */
  length = 0

  push(byte: number): void {
    if (this.length === this.bytes.length) this.grow(1)
    this.bytes[this.length++] = byte
  }

  append(bytes: Uint8Array): void {
    if (this.length + bytes.length > this.bytes.length) this.grow(bytes.length)
    this.bytes.set(bytes, this.length)
    this.length += bytes.length
  }

  /** Overwrites a byte already written (a length patched once its value is known). */
  put(at: number, byte: number): void {
    this.bytes[at] = byte
  }

  /** The bytes written, as a copy of their own. */
  take(): Uint8Array {
    return this.bytes.slice(0, this.length)
  }

  private grow(more: number): void {
    let size = this.bytes.length * 2
    while (size < this.length + more) size *= 2
    const bytes = new Uint8Array(size)
    bytes.set(this.bytes.subarray(0, this.length))
    this.bytes = bytes
  }
}

/** Encoding is synchronous and never nested, so one sink serves every document. */
const sink = new Sink()

function writeUintLe(out: Sink, value: number, tag: number, max: number, minBytes: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new TlvError(`tag ${tag}: ${value} is not an integer in 0..${max}`)
  }
  let written = 0
  for (let rest = value; rest > 0 || written < minBytes; rest = Math.floor(rest / 256), written++) out.push(rest % 256)
}

function readUintLe(bytes: Uint8Array): number {
  let value = 0
  for (let i = bytes.length - 1; i >= 0; i--) value = value * 256 + (bytes[i] ?? 0)
  return value
}

function badValue(tag: number, type: TlvType): TlvError {
  return new TlvError(`tag ${tag}: value does not fit type ${type.kind}`)
}

function writeValue(out: Sink, tag: number, type: TlvType, value: TlvValue): void {
  switch (type.kind) {
    case 'byte':
    case 'u32':
    case 'unixtime':
    case 'vln':
      if (typeof value !== 'number') throw badValue(tag, type)
      if (type.kind === 'byte') return writeUintLe(out, value, tag, 0xff, 1)
      if (type.kind === 'vln') return writeUintLe(out, value, tag, VLN_MAX, 1) // zero is one 0x00 byte
      return writeUintLe(out, value, tag, 0xffffffff, 4) // u32 and unixtime: always exactly 4 bytes
    case 'fvln': {
      if (typeof value !== 'object' || value instanceof Uint8Array || Array.isArray(value)) throw badValue(tag, type)
      const { mantissa, scale } = value as FixedPoint
      if (!Number.isInteger(scale) || scale < 0 || scale > 0xff) throw badValue(tag, type)
      out.push(scale)
      return writeUintLe(out, mantissa, tag, Number.MAX_SAFE_INTEGER, 1) // ≤ 7 bytes: 8 in all
    }
    case 'string':
    case 'fixed': {
      if (typeof value !== 'string') throw badValue(tag, type)
      if (type.kind === 'fixed' && type.digits && (value.length !== type.width || !/^\d+$/.test(value))) {
        throw new TlvError(`tag ${tag}: expected exactly ${type.width} digits`)
      }
      const text = cp866Bytes(value)
      const max = type.kind === 'string' ? type.max : type.width
      if (text.length > max) throw new TlvError(`tag ${tag}: ${text.length} bytes, at most ${max}`)
      out.append(text)
      // FFD pads 1018 and 1037 with spaces to their fixed width.
      if (type.kind === 'fixed') for (let i = text.length; i < type.width; i++) out.push(0x20)
      return
    }
    case 'bytes':
      if (!(value instanceof Uint8Array) || value.length !== type.length) throw badValue(tag, type)
      out.append(value)
      return
    case 'stlv': {
      if (!Array.isArray(value)) throw badValue(tag, type)
      const start = out.length
      writeFields(out, value as readonly TlvField[])
      if (out.length - start > type.max) throw new TlvError(`tag ${tag}: ${out.length - start} bytes, at most ${type.max}`)
      return
    }
  }
}

function writeFields(out: Sink, fields: readonly TlvField[]): void {
  for (const { tag, value } of fields) {
    const type = typeOf(tag)
    const head = out.length
    out.push(tag & 0xff)
    out.push(tag >> 8)
    out.push(0) // the length, patched below once the value is written
    out.push(0)
    writeValue(out, tag, type, value)
    const length = out.length - head - 4
    if (length > TLV_MAX_LENGTH) throw new TlvError(`tag ${tag}: value longer than ${TLV_MAX_LENGTH}`)
    out.put(head + 2, length & 0xff)
    out.put(head + 3, length >> 8)
  }
}

/** Encodes fields in the order given. Throws TlvError when a value does not fit its tag. */
export function encodeTlv(fields: readonly TlvField[]): Uint8Array {
  sink.length = 0 // empty, also after a document whose value did not fit its tag
  writeFields(sink, fields)
  return sink.take()
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

function decodeValue(tag: number, type: TlvType, v: Uint8Array): TlvValue {
  const need = (ok: boolean): void => {
    if (!ok) throw new TlvError(`tag ${tag}: ${v.length} bytes do not fit type ${type.kind}`)
  }
  switch (type.kind) {
    case 'byte':
      need(v.length === 1)
      return readUintLe(v)
    case 'u32':
    case 'unixtime':
      need(v.length === 4)
      return readUintLe(v)
    case 'vln':
      need(v.length >= 1 && v.length <= 6)
      return readUintLe(v)
    case 'fvln': {
      need(v.length >= 2 && v.length <= 8)
      const mantissa = readUintLe(v.subarray(1))
      need(Number.isSafeInteger(mantissa))
      return { scale: v[0] ?? 0, mantissa }
    }
    case 'string':
      need(v.length <= type.max)
      return cp866Decode(v)
    case 'fixed': {
      need(v.length === type.width)
      const text = cp866Decode(v)
      if (type.digits && !/^\d+$/.test(text)) throw new TlvError(`tag ${tag}: expected ${type.width} digits`)
      return text.replace(/ +$/, '')
    }
    case 'bytes':
      need(v.length === type.length)
      return v.slice()
    case 'stlv':
      need(v.length <= type.max)
      return decodeTlv(v)
  }
}

/** Decodes a TLV list back into fields. Throws TlvError on truncation, unknown tags, bad lengths. */
export function decodeTlv(bytes: Uint8Array): TlvField[] {
  const fields: TlvField[] = []
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let at = 0
  while (at < bytes.length) {
    if (at + 4 > bytes.length) throw new TlvError(`truncated TLV header at byte ${at}`)
    const tag = view.getUint16(at, true)
    const length = view.getUint16(at + 2, true)
    if (at + 4 + length > bytes.length) throw new TlvError(`tag ${tag} at byte ${at}: length ${length} runs past the end`)
    fields.push({ tag, value: decodeValue(tag, typeOf(tag), bytes.subarray(at + 4, at + 4 + length)) })
    at += 4 + length
  }
  return fields
}
