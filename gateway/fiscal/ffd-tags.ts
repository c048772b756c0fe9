// FFD 1.2 tag → value type table (docs/fiscal.md §1.1, §1.2, §3.2). Only the tags our documents
// carry: the decoder refuses any other tag, so a stored document holds nothing we cannot check.

export type TlvType =
  | { kind: 'byte' }
  /** uint32 little-endian. */
  | { kind: 'u32' }
  /** Unsigned LE integer, leading zero bytes dropped, 1..6 bytes (kopecks). */
  | { kind: 'vln' }
  /** First byte = decimal digits after the point, then the LE mantissa; ≤ 8 bytes in all. */
  | { kind: 'fvln' }
  /** uint32 LE seconds of the local wall-clock time written as if it were UTC. */
  | { kind: 'unixtime' }
  /** CP866, at most `max` bytes. */
  | { kind: 'string'; max: number }
  /** CP866, right-padded with spaces to exactly `width` bytes; `digits`: exactly that many digits. */
  | { kind: 'fixed'; width: number; digits?: boolean }
  | { kind: 'bytes'; length: number }
  /** Nested TLV list, at most `max` bytes of value. */
  | { kind: 'stlv'; max: number }

const BYTE = { kind: 'byte' } as const
const U32 = { kind: 'u32' } as const
const VLN = { kind: 'vln' } as const
const TIME = { kind: 'unixtime' } as const

/** A TLV value is at most 65535 bytes (uint16 length). */
export const TLV_MAX_LENGTH = 0xffff

export const FFD_TAGS: ReadonlyMap<number, TlvType> = new Map<number, TlvType>([
  // Documents (FFD form codes): 2 shift open report, 3 receipt, 5 shift close report, 31 correction receipt.
  [2, { kind: 'stlv', max: TLV_MAX_LENGTH }],
  [3, { kind: 'stlv', max: TLV_MAX_LENGTH }],
  [5, { kind: 'stlv', max: TLV_MAX_LENGTH }],
  [31, { kind: 'stlv', max: TLV_MAX_LENGTH }], // кассовый чек коррекции
  [1173, BYTE], // correction type: 0 self, 1 by order of the tax authority
  [1174, { kind: 'stlv', max: 292 }], // basis of the correction: 1178 (+ 1179 by order)
  [1178, TIME], // date of the corrected settlements (local midnight as if UTC)
  [1179, { kind: 'string', max: 32 }], // number of the tax authority's order (1173 = 1 only)
  [1209, BYTE], // FFD version: 4 = 1.2
  [1040, U32], // fiscal document number, across all documents of the FN
  [1041, { kind: 'fixed', width: 16, digits: true }], // FN serial number
  [1012, TIME], // date-time the FN signs, kassa's local clock
  [1037, { kind: 'fixed', width: 20 }], // KKT registration number
  [1018, { kind: 'fixed', width: 12 }], // user INN
  [1048, { kind: 'string', max: 256 }], // user name
  [1055, BYTE], // taxation system bitmask
  [1054, BYTE], // признак расчета: 1 приход, 2 возврат прихода
  [1038, U32], // shift number
  [1042, U32], // receipt number within the shift
  [1036, { kind: 'string', max: 20 }], // machine number, required in vending
  [1009, { kind: 'string', max: 256 }], // settlement address: where the machine stands
  [1187, { kind: 'string', max: 256 }], // settlement place: where inside the address
  [1020, VLN], // total
  [1031, VLN], // cash part
  [1081, VLN], // electronic part (card, SBP)
  [1059, { kind: 'stlv', max: 1024 }], // item
  [1030, { kind: 'string', max: 128 }], // item name
  [1079, VLN], // unit price
  [1023, { kind: 'fvln' }], // quantity
  [1043, VLN], // item total
  [1199, BYTE], // VAT rate code
  [1200, VLN], // item VAT sum
  [1212, BYTE], // subject: 1 goods
  [1214, BYTE], // payment method: 4 full payment
  [2108, BYTE], // measure: 0 pieces
  [1102, VLN], // receipt VAT at 20% (no 22% counterpart confirmed, docs/fiscal.md §6 Q3)
  [1103, VLN], // receipt VAT at 10%
  [1104, VLN], // receipt sum at 0%
  [1105, VLN], // receipt sum without VAT
  [1106, VLN], // receipt VAT at 20/120
  [1107, VLN], // receipt VAT at 10/110
  [1118, U32], // receipts in the shift (close report)
  [1111, U32], // fiscal documents in the shift (close report)
  [1097, U32], // documents not sent to the OFD
  [1098, TIME], // date-time of the first unsent document
  [1077, { kind: 'bytes', length: 6 }], // fiscal sign (ФПД)
])
