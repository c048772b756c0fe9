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
    return JSON.stringify(body(s, { items: [item({ price: 777 })], payment: { method: 'card', amount: 777 } })).replaceAll('777', text)
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
  notAnObject: (r) => ({ kind: 'notAnObject', payload: json([null, 42, 'sale', [1, 2]][Math.floor(r() * 4)]), saleId: null, reason: /expected object|Invalid input/ }),
}

export function hostile(random: Random): Hostile {
  const kinds = Object.keys(HOSTILE_KINDS)
  // Payloads of 300 KiB are rare: enough to exercise the parse limit, not to fill memory with them.
  let kind = kinds[Math.floor(random() * kinds.length)]!
  if (kind === 'beyondParseLimit' && random() < 0.9) kind = 'mismatchedTotal'
  return HOSTILE_KINDS[kind]!(random)
}
