import { formatRubles, parseRubles } from './money.js'

/** The fields of the FNS receipt QR string (tag 1196), as the FNS receipt-check app reads them. */
export interface ReceiptQr {
  /** Local wall-clock time of tag 1012 in the kassa's zone, `YYYYMMDDTHHMM` or with seconds. */
  t: string
  /** Total, kopecks. */
  s: number
  fn: string
  i: number
  fp: string
  /** Tag 1054: 1 sale (приход), 2 refund (возврат прихода). */
  n: number
}

/** `t=20261128T1521&s=120.00&fn=…&i=…&fp=…&n=1` */
export function formatReceiptQr(qr: ReceiptQr): string {
  return `t=${qr.t}&s=${formatRubles(qr.s)}&fn=${qr.fn}&i=${qr.i}&fp=${qr.fp}&n=${qr.n}`
}

/** Parses a QR string strictly: every field present once and well formed, or null. */
export function parseReceiptQr(text: string): ReceiptQr | null {
  const fields = new Map<string, string>()
  for (const part of text.split('&')) {
    const eq = part.indexOf('=')
    if (eq <= 0 || fields.has(part.slice(0, eq))) return null
    fields.set(part.slice(0, eq), part.slice(eq + 1))
  }
  const t = fields.get('t') ?? ''
  const s = parseRubles(fields.get('s') ?? '')
  const fn = fields.get('fn') ?? ''
  const i = fields.get('i') ?? ''
  const fp = fields.get('fp') ?? ''
  const n = fields.get('n') ?? ''
  if (fields.size !== 6 || !/^\d{8}T\d{4}(\d{2})?$/.test(t) || s === null) return null
  if (!/^\d{16}$/.test(fn) || !/^[1-9]\d*$/.test(i) || !/^\d{1,10}$/.test(fp) || !/^[1-4]$/.test(n)) return null
  return { t, s, fn, i: Number(i), fp, n: Number(n) }
}
