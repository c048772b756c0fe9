import type { Random } from '../../device-sim/random.js'
import { sale } from '../support/machine-client.js'

// Hostile sale payloads for the fuzz test. Each knows whether the gateway can read its saleId
// (then the machine must get a `rejected` display) and what its stored reason should say.

export interface Hostile {
  kind: string
  payload: Buffer
  /** The saleId decode.ts can read (a `rejected` display is due), or null. */
  saleId: string | null
  /** What the stored reason must match. */
  reason: RegExp
}

/** The SKU the fuzz test's trigger refuses. */
export const DATABASE_REFUSES = 'DB-REFUSES'

let counter = 0
const id = (kind: string) => `fz-${kind}-${++counter}`
const json = (value: unknown) => Buffer.from(JSON.stringify(value))
const withId = (kind: string, build: (saleId: string) => Buffer | string, reason: RegExp): Hostile => {
  const saleId = id(kind)
  const built = build(saleId)
  return { kind, payload: typeof built === 'string' ? Buffer.from(built) : built, saleId, reason }
}
const item = (over: Record<string, unknown> = {}) => ({ sku: 'A1', name: 'Вода', price: 5000, qty: 1, vat: 'vat22', ...over })
const body = (saleId: string, over: Record<string, unknown> = {}) => ({ ...sale({ saleId }), ...over })

/** Characters no sale string may hold (protocol/text.ts), each of which once broke a store, a receipt or a page. */
const POISON = ['\u0000', '\ud800', '\udfff', '\u0007', '\u001b', '\n', '\r', '\t', '\u007f', '\u0085', '\u009b', '\u200e', '\u202e', '\u2066', '\u2028', '\u061c']
const poisoned = (r: Random, base: string) => {
  const at = Math.floor(r() * (base.length + 1))
  return base.slice(0, at) + POISON[Math.floor(r() * POISON.length)]! + base.slice(at)
}

/** A random JSON value of strings that may hold any of POISON, numbers, nulls, arrays and objects. */
function randomJson(r: Random, depth: number): unknown {
  const pick = Math.floor(r() * (depth > 2 ? 4 : 6))
  if (pick === 0) return r() < 0.5 ? poisoned(r, 'x'.repeat(Math.floor(r() * 20))) : 'Вода «Архыз»'
  if (pick === 1) return [0, -1, 1e308, 2 ** 53 + 1, 0.5, 12000][Math.floor(r() * 6)]
  if (pick === 2) return [null, true, false][Math.floor(r() * 3)]
  if (pick === 3) return ''
  if (pick === 4) return Array.from({ length: Math.floor(r() * 4) }, () => randomJson(r, depth + 1))
  const o: Record<string, unknown> = {}
  for (let i = Math.floor(r() * 5); i > 0; i--) o[r() < 0.3 ? poisoned(r, 'k') : ['v', 'at', 'items', 'payment', 'kind', 'sku', 'name'][Math.floor(r() * 7)]!] = randomJson(r, depth + 1)
  return o
}

/** Every kind of hostile input the issue names; `pick` chooses one at random. */
export const HOSTILE_KINDS: Record<string, (random: Random) => Hostile> = {
  randomBytes: (r) => {
    const bytes = Buffer.alloc(1 + Math.floor(r() * 2000))
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(r() * 256)
    bytes[0] = 0xff // never valid UTF-8, so never by chance a readable sale
    return { kind: 'randomBytes', payload: bytes, saleId: null, reason: /not valid UTF-8/ }
  },
  invalidUtf8: () => ({
    kind: 'invalidUtf8', saleId: null, reason: /not valid UTF-8/,
    payload: Buffer.concat([Buffer.from(`{"v":1,"saleId":"${id('utf8')}","x":"`), Buffer.from([0xc3, 0x28, 0xed, 0xa0, 0x80]), Buffer.from('"}')]),
  }),
  notJson: () => ({ kind: 'notJson', payload: Buffer.from('{"v":1,"saleId":'), saleId: null, reason: /not JSON/ }),
  empty: () => ({ kind: 'empty', payload: Buffer.alloc(0), saleId: null, reason: /not JSON/ }),
  deepArrays: (r) => withId('deep', (s) => {
    const depth = 500 + Math.floor(r() * 5000)
    return `{"v":1,"saleId":"${s}","items":${'['.repeat(depth)}${']'.repeat(depth)}}`
  }, /items/),
  deepValid: (r) => withId('deepv', (s) => {
    const depth = 500 + Math.floor(r() * 3000)
    return `{"v":1,"saleId":"${s}","items":[${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}]}`
  }, /items|too large/),
  huge: (r) => withId('huge', (s) => json(body(s, { items: [item({ name: 'Я'.repeat(100) })], pad: 'x'.repeat(17_000 + Math.floor(r() * 3000)) })), /payload too large/),
  beyondParseLimit: () => ({
    kind: 'beyondParseLimit', saleId: null, reason: /payload too large/,
    payload: json(body(id('vast'), { pad: 'x'.repeat(300 * 1024) })),
  }),
  priceOverflow: (r) => withId('big', (s) => {
    // 1e400 is valid JSON that JSON.parse turns into Infinity; the others are finite but too large.
    const text = ['1e400', String(2 ** 53 + 1), '4294967296', '1e21'][Math.floor(r() * 4)]!
    return JSON.stringify(body(s, { items: [item({ price: 777 })], payment: { method: 'card', amount: 777 } })).replaceAll(':777', `:${text}`) // the values only, never a saleId that contains 777
  }, /price|amount/),
  negative: () => withId('neg', (s) => json(body(s, { items: [item({ price: -5000 })], payment: { method: 'card', amount: -5000 } })), /price|amount/),
  fractional: () => withId('frac', (s) => json(body(s, { items: [item({ price: 100.5 })], payment: { method: 'card', amount: 100.5 } })), /expected int|price|amount/),
  mismatchedTotal: () => withId('total', (s) => json(body(s, { items: [item()], payment: { method: 'card', amount: 4999 } })), /does not equal the items' total/),
  longName: () => withId('long', (s) => json(body(s, { items: [item({ name: 'x'.repeat(10_000) })], payment: { method: 'card', amount: 5000 } })), /name/),
  longSaleId: () => ({ kind: 'longSaleId', payload: json(body('q'.repeat(10_000))), saleId: null, reason: /saleId/ }),
  wrongVersion: (r) => withId('ver', (s) => json(body(s, { v: [2, '1', 0, null][Math.floor(r() * 4)] })), /^v: /),
  duplicateKey: () => withId('dup', (s) => {
    const text = JSON.stringify(body(s))
    return `${text.slice(0, -1)},"payment":{"method":"card","amount":1}}`
  }, /duplicate key "payment"/),
  unknownField: () => withId('unk', (s) => json(body(s, { tip: 100 })), /Unrecognized key|tip/),
  wrongTypes: () => withId('type', (s) => json(body(s, { items: 'none', at: 12 })), /items|at/),
  // A sale valid in every way but one string, which holds a character no sale may (NUL, a lone
  // surrogate, a control, a bidi override): refused at validation, never reaching PostgreSQL.
  poisonedString: (r) => {
    const field = ['name', 'sku', 'saleId', 'refundOf'][Math.floor(r() * 4)]!
    const saleId = field === 'saleId' ? poisoned(r, id('pois')) : id('pois')
    const over: Record<string, unknown> = field === 'refundOf' ? { kind: 'refund', refundOf: poisoned(r, 'orig') } : {}
    if (field === 'name' || field === 'sku') {
      over.items = [item({ [field]: poisoned(r, field === 'name' ? 'Вода' : 'A1') })]
      over.payment = { method: 'card', amount: 5000 }
    }
    const s = body(saleId, over)
    return { kind: 'poisonedString', payload: json(s), saleId, reason: /forbidden character|lone surrogate/ }
  },
  // A valid sale the database refuses (the fuzz test installs a trigger for this SKU): the next
  // unknown kind of bad input, found only when its batch is written. Split off and rejected alone.
  refusedByDatabase: () => withId('dbref', (s) => json(body(s, { items: [item({ sku: DATABASE_REFUSES })], payment: { method: 'card', amount: 5000 } })),
    /^could not be stored: refused by the database \(SQLSTATE 22023\)$/),
  // Random JSON of hostile strings, with a readable saleId half of the time.
  randomJson: (r) => {
    const value = randomJson(r, 0)
    const o = typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : { value }
    const saleId = r() < 0.5 ? poisoned(r, id('rj')) : null
    if (saleId !== null) o.saleId = saleId
    else delete o.saleId
    return { kind: 'randomJson', payload: json(o), saleId, reason: /./ }
  },
  // ASCII noise with NUL bytes: valid UTF-8, never JSON (it opens with a raw NUL).
  nulNoise: (r) => {
    const bytes = Buffer.alloc(2 + Math.floor(r() * 500))
    for (let i = 0; i < bytes.length; i++) bytes[i] = r() < 0.2 ? 0 : Math.floor(r() * 128)
    bytes[0] = 0
    return { kind: 'nulNoise', payload: bytes, saleId: null, reason: /^payload is not JSON: / }
  },
  notAnObject: (r) => ({ kind: 'notAnObject', payload: json([null, 42, 'sale', [1, 2]][Math.floor(r() * 4)]), saleId: null, reason: /expected object|Invalid input/ }),
}

export function hostile(random: Random): Hostile {
  const kinds = Object.keys(HOSTILE_KINDS)
  // Payloads of 300 KiB are rare: enough to exercise the parse limit, not to fill memory with them.
  let kind = kinds[Math.floor(random() * kinds.length)]!
  if (kind === 'beyondParseLimit' && random() < 0.9) kind = 'mismatchedTotal'
  return HOSTILE_KINDS[kind]!(random)
}
