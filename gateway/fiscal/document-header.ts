// Fields every fiscal document of a kassa starts with, in one fixed order so that the same
// document always encodes to the same bytes.
import { toCp866Text } from './cp866.js'
import { fiscalLocalTime } from './fiscal-time.js'
import type { KassaIdentity } from './fn.types.js'
import { tlvField, type TlvField } from './tlv.js'

/** FFD 1.2 tag 1209 value: 4 = FFD 1.2. */
export const FFD_VERSION_1_2 = 4

export interface DocumentHeader {
  kassa: KassaIdentity
  /** FFD 1041. */
  fn: string
  /** FFD 1040. */
  fd: number
  /** When the FN signs; tag 1012 is this on the kassa's wall clock. */
  signedAt: Date
}

export function headerFields({ kassa, fn, fd, signedAt }: DocumentHeader): TlvField[] {
  return [
    tlvField(1209, FFD_VERSION_1_2), // FFD 1.2 tag 1209: format version
    tlvField(1040, fd), // FFD 1.2 tag 1040: document number, gapless across all documents
    tlvField(1041, fn), // FFD 1.2 tag 1041: FN number, 16 digits
    tlvField(1012, fiscalLocalTime(signedAt, kassa.timeZone).unixLocal), // local time as if UTC
    tlvField(1037, kassa.regNumber), // FFD 1.2 tag 1037: KKT registration number, padded to 20
    tlvField(1018, kassa.inn), // FFD 1.2 tag 1018: user INN, padded to 12
    tlvField(1048, fitText(kassa.name, 256)), // FFD 1.2 tag 1048: user name
  ]
}

/**
 * Free text cut to a tag's byte limit. CP866 replacements may lengthen text (… → ...), so a name
 * that passed the schema's character limit can still be too long for its tag: rather than refuse
 * a paid sale, the TLV keeps the first bytes and ends with "..." to show the cut. The receipt page
 * keeps the original text.
 */
export function fitText(text: string, maxBytes: number): string {
  const cp866 = toCp866Text(text)
  return cp866.length <= maxBytes ? cp866 : `${cp866.slice(0, maxBytes - 3)}...`
}
