// The emulated fiscal drive (FN) as pure data: the state it keeps, what it is asked to sign,
// and the documents it returns. No I/O here; the fiscalizer loads and stores these rows.
import type { PaymentMethod, SaleItem } from '../../protocol/index.js'

/** FFD tag 1055 / ATOL `sno`. */
export const TAX_SYSTEMS = ['osn', 'usn_income', 'usn_income_outcome', 'esn', 'patent'] as const
export type TaxSystem = (typeof TAX_SYSTEMS)[number]

/** FN models by lifetime: FN-15 lives 470 days, FN-36 1,110 days (docs/fiscal.md §3.3). */
export const FN_MODELS = { 'fn-15': 470, 'fn-36': 1110 } as const
export type FnModel = keyof typeof FN_MODELS

/** The registered kassa (KKT) whose FN signs: the header of every document. */
export interface KassaIdentity {
  id: string
  /** FFD 1048, the user's name. */
  name: string
  /** FFD 1018, 10 or 12 digits. */
  inn: string
  /** FFD 1037, KKT registration number. */
  regNumber: string
  sno: TaxSystem
  /** IANA zone of the place of settlement: tag 1012 and QR `t` are wall-clock time there. */
  timeZone: string
}

export interface FnState {
  /** FFD 1041: 16 digits; emulated drives start with 9999 (test range). */
  fn: string
  model: FnModel
  /** Per-FN HMAC-SHA256 key. */
  secret: Uint8Array
  registeredAt: Date
  /** How many fiscal documents the FN can hold. */
  docLimit: number
  /** FFD 1040 of the next document; documents are numbered 1, 2, 3 … with no gap. */
  nextFd: number
  /** FFD 1038 of the current (or last) shift; 0 before the first shift. */
  shiftNumber: number
  shiftOpenedAt: Date | null
  /** FFD 1042 of the last receipt in the current shift. */
  receiptsInShift: number
  /** Documents not yet confirmed by the OFD (the emulated FN never sends, so this only grows). */
  unsentCount: number
  firstUnsentAt: Date | null
}

export interface MachinePlace {
  /** FFD 1036: the machine number; the machine id unless one was given. */
  number: string
  /** FFD 1009: where the machine stands. */
  address: string
  /** FFD 1187: the place inside the address. */
  place: string
}

/** A self-correction (1173 = 0) for vends that got no receipt: one приход (1054 = 1) receipt of form 31. */
export interface CorrectionToSign {
  machine: MachinePlace
  items: readonly SaleItem[]
  /** FFD 1031 and 1081, kopecks; their sum is the total (1020). */
  cash: number
  ecash: number
  /** FFD 1178: the date of the corrected settlements on the kassa's calendar, YYYY-MM-DD. */
  baseDate: string
}

export interface SaleToSign {
  /** The sales row this receipt is for. */
  saleRowId: string
  machine: MachinePlace
  /** 'refund' signs a возврат прихода (1054 = 2) with the items given (the original's). */
  kind: 'sale' | 'refund'
  items: readonly SaleItem[]
  paymentMethod: PaymentMethod
  /** Σ price × qty, kopecks. */
  total: number
}

/** 2 shift open report, 3 receipt, 5 shift close report, 31 correction receipt (FFD form codes). */
export type DocumentType = 2 | 3 | 5 | 31

export interface SignedDocument {
  fd: number
  type: DocumentType
  signedAt: Date
  shift: number
  /** FFD 1042 for receipts; null for reports. */
  receiptInShift: number | null
  saleRowId: string | null
  /** FFD 1054 for receipts (1 приход, 2 возврат прихода); null for reports. */
  operation: 1 | 2 | null
  total: number
  /** The whole document's canonical TLV bytes, tag 1077 included. */
  tlv: Uint8Array
  /** Last 4 bytes of 1077 as a big-endian unsigned decimal. */
  fp: string
}

/** Why an FN refuses to sign: the sales stay pending until an operator replaces the FN or moves the machine. */
export type FnBlock = { code: 'fn_full' | 'fn_expired'; message: string }

export interface SignResult {
  state: FnState
  documents: SignedDocument[]
  /** Set when the FN stopped signing; sales not in `documents` were not signed. */
  blocked: FnBlock | null
  /**
   * Sales no FN could ever sign as given (e.g. a machine number longer than tag 1036's 20
   * bytes): skipped without using a document, so one bad sale never stalls the kassa. Retrying
   * them cannot help; mark them failed.
   */
  refused: { saleRowId: string; reason: string }[]
}
