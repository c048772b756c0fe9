// A strict reader of the Prometheus text exposition format (0.0.4), enough to check that
// /metrics is well formed and to read sample values in tests.

export interface PromSample { name: string; labels: Record<string, string>; value: number }
export interface PromText { types: Map<string, string>; samples: PromSample[] }

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])

/** As Prometheus reads a value (Go's ParseFloat): Inf and NaN in any case; prom-client writes `Nan`. */
function parseValue(text: string, line: string): number {
  const word = text.toLowerCase()
  if (word === '+inf' || word === 'inf') return Infinity
  if (word === '-inf') return -Infinity
  if (word === 'nan') return NaN
  const v = Number(text)
  if (Number.isNaN(v)) throw new Error(`bad value in: ${line}`)
  return v
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {}
  LABEL.lastIndex = 0
  while (LABEL.lastIndex < text.length) {
    const m = LABEL.exec(text)
    if (!m) throw new Error(`bad labels in: ${line}`)
    labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
  }
  return labels
}

/** Throws on the first malformed line, or on a sample whose metric family has no TYPE line. */
export function parsePromText(text: string): PromText {
  const types = new Map<string, string>()
  const samples: PromSample[] = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
      if (!m) continue // a plain comment
      if (!NAME.test(m[2]!)) throw new Error(`bad metric name in: ${line}`)
      if (m[1] === 'TYPE') {
        if (!TYPES.has(m[3]!)) throw new Error(`bad type in: ${line}`)
        types.set(m[2]!, m[3]!)
      }
      continue
    }
    const m = SAMPLE.exec(line)
    if (!m) throw new Error(`bad sample line: ${line}`)
    const name = m[1]!
    const family = [...types.keys()].find((f) => name === f || (/_(bucket|sum|count|total|created)$/.test(name) && name.startsWith(`${f}_`)))
    if (!family) throw new Error(`sample without a TYPE: ${line}`)
    samples.push({ name, labels: parseLabels(m[2] ?? '', line), value: parseValue(m[3]!, line) })
  }
  return { types, samples }
}

/** The value of the one sample with this name and (at least) these labels; undefined when absent. */
export function sampleValue(p: PromText, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = p.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  if (found.length > 1) throw new Error(`${found.length} samples match ${name} ${JSON.stringify(labels)}`)
  return found[0]?.value
}
