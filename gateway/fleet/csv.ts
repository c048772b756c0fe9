// RFC 4180 CSV: fields separated by commas, a field holding a comma, quote or line break is quoted
// with `"` and its quotes doubled; CRLF or LF line ends; a UTF-8 BOM is ignored.

export interface CsvRecord { line: number; fields: string[] }

export class CsvError extends Error {}

/** Records with the line each starts on (1-based); blank lines are skipped. */
export function parseCsv(text: string): CsvRecord[] {
  const records: CsvRecord[] = []
  let fields: string[] = []
  let field = ''
  let quoted = false
  let line = 1
  let start = 1
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0
  const endRecord = () => {
    fields.push(field)
    if (fields.length > 1 || fields[0] !== '') records.push({ line: start, fields })
    fields = []
    field = ''
  }
  for (; i < text.length; i++) {
    const c = text[i]!
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++ }
      else if (c === '"') quoted = false
      else { if (c === '\n') line++; field += c }
    } else if (c === '"' && field === '') quoted = true
    else if (c === ',') { fields.push(field); field = '' }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++
      endRecord()
      line++
      start = line
    } else field += c
  }
  if (quoted) throw new CsvError(`line ${start}: a quoted field is not closed`)
  if (field !== '' || fields.length > 0) endRecord()
  return records
}
