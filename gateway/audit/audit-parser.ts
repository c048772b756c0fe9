// Reads an EVA-DTS 6.x DEX/UCS audit as real machines write it. Tolerant of everything the real
// files do (junk around the envelope, LF-only line ends, a wrong SE count under a good G85, either
// G85 form, no ID4, empty elements, 4294967295 as "unset", no ST/SE/G85, unknown blocks), and
// refuses only what is no audit at all. Pure: bytes in, a summary out.
import { matchG85 } from './audit-crc.js'
import { readEnvelope, toSegment } from './audit-lines.js'
import type { AuditParse, AuditProduct, CrcVariant, ElementValue, ParsedAudit, Segment } from './audit.types.js'

/** Some makers write 2^32 − 1 for "not available" (Jofemar ID106, CB105, PA7 fields). */
export const UNSET = 4294967295

/** Blocks whose elements are identifiers, dates or times: kept as strings (leading zeros matter). */
const TEXT_BLOCKS = new Set(['DXS', 'ID1', 'ID5', 'CB1', 'AM1', 'CA1', 'DA1', 'DB1', 'BA1', 'TA1', 'EA1', 'EA3', 'EA4', 'PA5'])
/** Blocks this parser reads; any other is kept as written in `otherBlocks`. */
const KNOWN = /^(DXS|DXE|ST|SE|G85|ID[1-5]|CB1|AM1|VA[1-3]|CA(1[0-7]|[1-9])|D[AB]([1-9]|10)|TA[1-7]|BA1|PA[1-8]|LA1|EA[1-7])$/

export function elementValue(block: string, raw: string | undefined): ElementValue {
  if (raw === undefined || raw.trim() === '') return null
  if (/^\d+$/.test(raw)) {
    const n = Number(raw)
    if (n === UNSET) return null
    if (!TEXT_BLOCKS.has(block) && Number.isSafeInteger(n)) return n
  }
  return raw
}

function str(v: ElementValue | undefined): string | null {
  return v === null || v === undefined ? null : String(v).trim() || null
}

export function parseAudit(bytes: Uint8Array): AuditParse {
  const envelope = readEnvelope(bytes)
  if (!envelope.ok) return envelope
  const warnings: string[] = []
  if (envelope.skippedBefore > 0) warnings.push(`${envelope.skippedBefore} bytes before DXS ignored`)
  if (envelope.skippedAfter > 0) warnings.push(`${envelope.skippedAfter} bytes after DXE ignored`)
  if (envelope.lfOnly) warnings.push('LF line ends: CR LF restored for the G85 check')
  if (!envelope.complete) warnings.push('truncated: no DXE')

  const elements: Record<string, ElementValue> = {}
  const products: AuditProduct[] = []
  const otherBlocks: string[] = []
  const crcs: (CrcVariant | null)[] = []
  let stOffset: number | null = null
  let inSet = 0
  let segmentCount = 0
  for (const line of envelope.lines) {
    if (line.text.trim() === '') continue
    const seg: Segment = toSegment(line.text)
    segmentCount++
    if (stOffset !== null || seg.id === 'ST') inSet++
    if (seg.id === 'ST') { stOffset = line.offset; inSet = 1 }
    if (seg.id === 'G85') {
      if (stOffset === null) warnings.push('G85 without ST: not checked')
      else crcs.push(matchG85(bytes.subarray(stOffset, line.offset), seg.elements[0] ?? ''))
    }
    if (seg.id === 'SE') {
      const declared = Number(seg.elements[0])
      if (stOffset === null) warnings.push('SE without ST')
      else if (declared !== inSet) warnings.push(`SE count ${seg.elements[0] ?? ''} ≠ ${inSet}`)
      stOffset = null
      inSet = 0
    }
    if (!KNOWN.test(seg.id)) { otherBlocks.push(line.text); continue }
    if (seg.id === 'PA1') {
      products.push({ id: str(elementValue('PA1', seg.elements[0])), price: num(elementValue('PA', seg.elements[1])), name: str(elementValue('PA1', seg.elements[2])), pa2: [] })
      continue
    }
    if (seg.id === 'PA2') {
      const product = products.at(-1)
      if (product) product.pa2 = seg.elements.map((e) => elementValue('PA2', e))
      else warnings.push('PA2 before any PA1 ignored')
      continue
    }
    if (seg.id.startsWith('PA')) continue // PA3…PA8 belong to their PA1; the summary keeps PA2
    seg.elements.forEach((raw, i) => {
      const name = `${seg.id}${String(i + 1).padStart(2, '0')}`
      if (!(name in elements)) elements[name] = elementValue(seg.id, raw)
    })
  }
  if (stOffset !== null) warnings.push('ST without SE')

  const crc = crcs.length === 0 ? 'absent' : crcs.every((c) => c !== null) ? 'ok' : 'bad'
  if (crc === 'absent') warnings.push('no G85: integrity not verified')
  const decimalsRaw = elements.ID401
  const decimals = typeof decimalsRaw === 'number' && decimalsRaw <= 4 ? decimalsRaw : 2
  if (decimalsRaw === undefined || decimalsRaw === null) warnings.push('no ID401: 2 decimals assumed')
  const audit: ParsedAudit = {
    crc, crcVariant: crc === 'ok' ? crcs[0] ?? null : null, decimals,
    currency: str(elements.ID403) ?? str(elements.ID402),
    complete: envelope.complete, elements, products, otherBlocks, warnings, segmentCount,
    identity: {
      serial: str(elements.ID101) ?? str(elements.DXS01), model: str(elements.ID102), build: str(elements.ID103),
      board: str(elements.CB101), boardBuild: str(elements.CB103), firmware: str(elements.AM103),
      initialisedAt: str(elements.EA401) === null ? null : `${str(elements.EA401)} ${str(elements.EA402) ?? ''}`.trim(),
    },
  }
  return { ok: true, audit }
}

function num(v: ElementValue): number | null {
  return typeof v === 'number' ? v : null
}
