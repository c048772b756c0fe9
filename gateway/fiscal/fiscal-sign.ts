// The emulated FN's fiscal sign (docs/fiscal.md §2): HMAC-SHA256 with the per-FN secret
// over the canonical TLV of the whole document (outer STLV tag included) without tag 1077.
// FFD 1.2 tag 1077 = 0x00 0x00 + the first 4 bytes of the MAC; `fp` = the last 4 bytes of 1077
// as a big-endian unsigned decimal, up to 4294967295, so always a string and never an int32.
// The real FN's GOST algorithm is not public; this is a deterministic stand-in an OFD-like
// verifier holding the secret can recompute.
import { createHmac, timingSafeEqual } from 'node:crypto'
import { concatBytes, encodeTlv, TlvError, tlvField, type TlvField } from './tlv.js'

export const FISCAL_SIGN_TAG = 1077

export interface SignedTlv {
  /** The document's canonical bytes with 1077 as its last field. */
  tlv: Uint8Array
  /** The 6 bytes of tag 1077. */
  sign: Uint8Array
  fp: string
}

/** 6-byte tag 1077 for the given signing bytes. */
export function fiscalSign(signingBytes: Uint8Array, secret: Uint8Array): Uint8Array {
  const mac = createHmac('sha256', secret).update(signingBytes).digest()
  const sign = new Uint8Array(6)
  sign.set(mac.subarray(0, 4), 2)
  return sign
}

/** `fp` from tag 1077: its last 4 bytes, big-endian unsigned, as a decimal string. */
export function fpFromSign(sign: Uint8Array): string {
  if (sign.length !== 6) throw new RangeError('tag 1077 holds exactly 6 bytes')
  return new DataView(sign.buffer, sign.byteOffset, 6).getUint32(2, false).toString()
}

/** Signs a document of form `type` (outer STLV tag 2, 3 or 5); `fields` must not hold 1077. */
export function signDocument(type: number, fields: readonly TlvField[], secret: Uint8Array): SignedTlv {
  const unsigned = encodeTlv([tlvField(type, fields)])
  const sign = fiscalSign(unsigned, secret)
  // Append 1077 at byte level and grow the outer length: the same bytes as encoding the fields
  // with 1077 last, without encoding the document twice.
  const signField = encodeTlv([tlvField(FISCAL_SIGN_TAG, sign)])
  const tlv = concatBytes([unsigned, signField])
  const length = tlv.length - 4
  if (length > 0xffff) throw new TlvError(`document ${type}: ${length} bytes, at most 65535`)
  tlv[2] = length & 0xff
  tlv[3] = length >> 8
  return { tlv, sign, fp: fpFromSign(sign) }
}

/**
 * The bytes the sign covers, cut from a stored document at byte level (the outer header with its
 * length reduced, then every inner field but 1077), so verifying never depends on re-encoding.
 */
export function signingBytesOf(tlv: Uint8Array): { signingBytes: Uint8Array; sign: Uint8Array } {
  const view = new DataView(tlv.buffer, tlv.byteOffset, tlv.byteLength)
  if (tlv.length < 4 || view.getUint16(2, true) !== tlv.length - 4) {
    throw new TlvError('the document is not one STLV spanning all its bytes')
  }
  const kept: Uint8Array[] = []
  let sign: Uint8Array | null = null
  for (let at = 4; at < tlv.length; ) {
    if (at + 4 > tlv.length) throw new TlvError(`truncated TLV header at byte ${at}`)
    const end = at + 4 + view.getUint16(at + 2, true)
    if (end > tlv.length) throw new TlvError(`field at byte ${at} runs past the end`)
    if (view.getUint16(at, true) === FISCAL_SIGN_TAG) {
      if (sign !== null) throw new TlvError('tag 1077 appears twice')
      sign = tlv.slice(at + 4, end)
    } else kept.push(tlv.subarray(at, end))
    at = end
  }
  if (sign === null || sign.length !== 6) throw new TlvError('tag 1077 (6 bytes) is missing')
  const inner = concatBytes(kept)
  const head = new Uint8Array(4)
  new DataView(head.buffer).setUint16(0, view.getUint16(0, true), true)
  new DataView(head.buffer).setUint16(2, inner.length, true)
  return { signingBytes: concatBytes([head, inner]), sign }
}

/** True when the stored 1077 is the sign of the rest of the document under `secret`. */
export function signMatches(tlv: Uint8Array, secret: Uint8Array): boolean {
  const { signingBytes, sign } = signingBytesOf(tlv)
  return timingSafeEqual(fiscalSign(signingBytes, secret), sign)
}
