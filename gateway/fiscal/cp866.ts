// FFD 1.2 strings are CP866 (IBM866) with no terminator (docs/fiscal.md §1.1). A character CP866 lacks
// is replaced by its nearest equivalent, never dropped silently (docs/contract.md#saleevent); the receipt page and
// the display keep the original text, only the TLV carries this form.
import iconv from 'iconv-lite'

/** Every character CP866 can hold: the 256 bytes decoded once. */
const CP866_CHARS: ReadonlySet<string> = new Set(
  iconv.decode(Buffer.from(Array.from({ length: 256 }, (_, i) => i)), 'cp866'),
)

/** What we write for a character CP866 has no nearest equivalent for. */
export const CP866_UNKNOWN = '?'

/**
 * Nearest equivalents for common typography CP866 lacks. № (0xFC), ° (0xF8), · (0xFA) and Ё/ё
 * are in CP866 and stay. NBSP is at 0xFF in CP866, but many viewers show 0xFF as a blank box or
 * nothing, so it becomes a plain space.
 */
const REPLACEMENTS: Readonly<Record<string, string>> = {
  '«': '"', '»': '"', '„': '"', '“': '"', '”': '"', '‟': '"', '″': '"', '〃': '"',
  '‘': "'", '’': "'", '‚': "'", '‛': "'", '′': "'", '‹': "'", '›': "'",
  '—': '-', '–': '-', '‒': '-', '―': '-', '‐': '-', '‑': '-', '−': '-', '⁃': '-',
  '…': '...', '•': '·', '×': 'x', '÷': '/', '±': '+-', '≤': '<=', '≥': '>=', '≠': '!=',
  '€': 'EUR', '₽': 'руб.', '©': '(C)', '®': '(R)', '™': '(TM)', '‰': '%o',
  '\u00a0': ' ', '\u202f': ' ', '\u2007': ' ', '\u2009': ' ', '\u200a': ' ', '\u2002': ' ', '\u2003': ' ',
  '\u2004': ' ', '\u2005': ' ', '\u2006': ' ', '\u2008': ' ', '\u3000': ' ',
  // Invisible format characters carry no text: an explicit, visible-nothing-lost removal.
  '\u200b': '', '\u200c': '', '\u200d': '', '\u2060': '', '\ufeff': '', '\u00ad': '',
  'Ґ': 'Г', 'ґ': 'г', 'І': 'I', 'і': 'i',
}

/** Combining diacritical marks, dropped after NFD so that é → e, ß stays unknown. */
const COMBINING = /[\u0300-\u036f]/g

function nearest(char: string): string {
  // Latin letters with accents: the base letter is the nearest equivalent. Cyrillic й, ё are in
  // CP866 and never reach here, so their marks are safe.
  const base = char.normalize('NFD').replace(COMBINING, '')
  if (base.length > 0 && [...base].every((c) => CP866_CHARS.has(c))) return base
  return CP866_UNKNOWN
}

/** Printable ASCII, Russian letters and №: most text, already CP866, skips the per-character walk. */
const PLAIN_CP866 = /^[\x20-\x7e\u0410-\u044f\u0401\u0451\u2116]*$/

/**
 * Texts converted and encoded lately. A kassa's name, a machine's address and place and the names
 * of its goods are on every receipt, and «quotes» in a name send it down the per-character walk
 * each time (a profile of the gateway at 1,000 sales/s: CP866 conversion was its costliest
 * function of our own). Cleared when full, so odd texts cannot grow it.
 */
const CACHE_MAX = 4096
const converted = new Map<string, string>()
const encoded = new Map<string, Uint8Array>()
function remember<T>(cache: Map<string, T>, text: string, value: T): T {
  if (cache.size >= CACHE_MAX) cache.clear()
  cache.set(text, value)
  return value
}

/** The text as CP866 can hold it: each missing character replaced by its nearest equivalent. */
export function toCp866Text(text: string): string {
  if (PLAIN_CP866.test(text)) return text
  const known = converted.get(text)
  if (known !== undefined) return known
  let out = ''
  // NFC first so that и + combining breve is the single CP866 letter й.
  // The table goes first: it also overrides NBSP, which CP866 has.
  for (const char of text.normalize('NFC')) out += REPLACEMENTS[char] ?? (CP866_CHARS.has(char) ? char : nearest(char))
  return remember(converted, text, out)
}

/** Encodes text to CP866 bytes, replacing what CP866 lacks (see toCp866Text). A new array each call. */
export function cp866Encode(text: string): Uint8Array {
  return cp866Bytes(text).slice()
}

/** As cp866Encode, without the copy: the bytes remembered for the text, which the caller must not change. */
export function cp866Bytes(text: string): Readonly<Uint8Array> {
  return encoded.get(text) ?? remember(encoded, text, new Uint8Array(iconv.encode(toCp866Text(text), 'cp866')))
}

/** Decodes CP866 bytes; every byte maps to a character, so this never fails. */
export function cp866Decode(bytes: Uint8Array): string {
  return iconv.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), 'cp866')
}
