import { scavengesDuring, type Scavenges } from './lib/young-generation.js'

// Why the objects the gateway makes for each document and each display are written out field by
// field (gateway/fiscal/fn.ts, gateway/fiscalizer/batch-commit.repository.ts): on this Node (20,
// V8 11.3) an object spread followed by a property its source lacks, `{ ...source, added }`, gives
// each new object a map of its own once the first few have been made, and the young generation's
// collections then find much of what was allocated still alive, copy it and promote it. The same
// objects built any other way leave nothing behind. `npx tsx scripts/spread-probe.ts [objects]`;
// figures in docs/performance.md.

type Source = { type: number; shift: number; receiptInShift: number; saleRowId: string; operation: number; total: number }

const source = (i: number): Source => ({ type: 3, shift: 1, receiptInShift: i, saleRowId: `row-${i & 1023}`, operation: 1, total: 12000 })

const shapes: Record<string, (s: Source, i: number) => object> = {
  'spread, then a new property: { ...s, fd }': (s, i) => ({ ...s, fd: i }),
  'spread, then an existing one: { ...s, total }': (s, i) => ({ ...s, total: i }),
  'spread last: { fd, ...s }': (s, i) => ({ fd: i, ...s }),
  'Object.assign({}, s, { fd })': (s, i) => Object.assign({}, s, { fd: i }),
  'field by field': (s, i) => ({ type: s.type, shift: s.shift, receiptInShift: s.receiptInShift, saleRowId: s.saleRowId, operation: s.operation, total: s.total, fd: i }),
}

/** Makes `count` objects one way, each kept only until the next, and sums the young generation's collections meanwhile. */
function measure(make: (s: Source, i: number) => object, count: number): Scavenges {
  let last: object | null = null
  for (let i = 0; i < 10_000; i++) last = make(source(i), i) // past the first objects, which share a map
  const figures = scavengesDuring(() => { for (let i = 0; i < count; i++) last = make(source(i), i) })
  if (last === null) throw new Error('nothing made')
  return figures
}

const arg = process.argv[2]
const count = arg === undefined ? 2_000_000 : Number(arg)
if (!Number.isSafeInteger(count) || count < 10_000) {
  console.error(`usage: npx tsx scripts/spread-probe.ts [objects]: objects must be a whole number of at least 10000, not "${arg}"`)
  process.exit(2)
}
console.log(`node ${process.version}, V8 ${process.versions.v8}: ${count} objects each way; per young-generation collection (scavenge)`)
console.log('| how the object is made | scavenges | mean ms | survived KiB | promoted KiB |')
console.log('| --- | ---: | ---: | ---: | ---: |')
for (const [name, make] of Object.entries(shapes)) {
  const c = measure(make, count)
  console.log(`| ${name} | ${c.count} | ${c.meanMs} | ${c.survivedKiB} | ${c.promotedKiB} |`)
}
