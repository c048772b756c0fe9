// G85 record integrity check as real machines write it (EVA-DTS 6.2 §2.4.3; checked against real
// audits): CRC-16/ARC over the bytes from the `S` of `ST` through the CR LF ending the segment
// before G85. Uploaders often turn CR LF into LF; the CRC covers CR LF, so bare LFs are restored
// first. Pre-6.0 devices may swap the two bytes, and some (N&W Kikko) leave out the final CR LF.
import { crc16Arc, formatG85 } from '../../protocol/eva-dts-crc.js'
import type { CrcVariant } from './audit.types.js'

const CR = 0x0d
const LF = 0x0a

/** The bytes with every bare LF made CR LF. */
export function restoreCrLf(bytes: Uint8Array): Uint8Array {
  let bare = 0
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === LF && bytes[i - 1] !== CR) bare++
  if (bare === 0) return bytes
  const out = new Uint8Array(bytes.length + bare)
  let j = 0
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === LF && bytes[i - 1] !== CR) out[j++] = CR
    out[j++] = bytes[i]!
  }
  return out
}

function swap(crc: number): number {
  return ((crc & 0xff) << 8) | (crc >> 8)
}

/**
 * Which form of the check `g85` (4 hex characters, any case) is for `covered` (ST … the line end
 * before G85, as received), or null when none matches.
 */
export function matchG85(covered: Uint8Array, g85: string): CrcVariant | null {
  const want = g85.trim().toUpperCase()
  if (!/^[0-9A-F]{4}$/.test(want)) return null
  const bytes = restoreCrLf(covered)
  const full = crc16Arc(bytes)
  if (formatG85(full) === want) return 'msb-first'
  if (formatG85(swap(full)) === want) return 'byte-swapped'
  const endsCrLf = bytes.length >= 2 && bytes[bytes.length - 2] === CR && bytes[bytes.length - 1] === LF
  if (!endsCrLf) return null
  const short = crc16Arc(bytes, 0, bytes.length - 2)
  if (formatG85(short) === want) return 'msb-first-no-final-crlf'
  if (formatG85(swap(short)) === want) return 'byte-swapped-no-final-crlf'
  return null
}
