// Reconciliation of one interval between two consecutive audits of a machine: what its lifetime
// counters say it sold, against the receipts issued for it. Pure: the caller loads both sides.
import type { AuditIdentity, ElementValue, ParsedAudit } from './audit.types.js'
import { counterDelta } from './counter-delta.js'
import { COUNTER_DIGITS, profileFor, type CounterProfile, type CounterSource } from './counter-profile.js'

/** Kopecks and vends. */
export interface Money { value: number; count: number }
export interface Split { total: Money; cash: Money | null; cashless: Money | null }

export type Counting =
  | { kind: 'counted'; profile: CounterProfile; counted: Split; wraps: string[] }
  | { kind: 'baseline'; reason: string }
  | { kind: 'profile_unknown'; reason: string }

/** Most vends a machine makes in a second, and the largest price of one (raw units), for wrap plausibility. */
const MAX_VENDS_PER_S = 1
const MAX_PRICE_RAW = 10_000_000

const IDENTITY_FIELDS: readonly (keyof AuditIdentity)[] = ['serial', 'build', 'board', 'boardBuild', 'firmware', 'initialisedAt']
const IDENTITY_NAMES: Record<keyof AuditIdentity, string> = {
  serial: 'serial (ID101)', model: 'model (ID102)', build: 'build (ID103)', board: 'board (CB101)',
  boardBuild: 'board software (CB103)', firmware: 'audit module software (AM103)', initialisedAt: 'initialisation date (EA4)',
}

/** Why two audits do not belong to one counter chain, or null when they do. */
export function identityChange(prev: AuditIdentity, cur: AuditIdentity): string | null {
  for (const f of IDENTITY_FIELDS) {
    if (prev[f] !== cur[f]) return `${IDENTITY_NAMES[f]} changed: ${prev[f] ?? '—'} → ${cur[f] ?? '—'}`
  }
  return null
}

const raw = (v: ElementValue | undefined): number => (typeof v === 'number' ? v : 0)

/** Raw values in the file's decimals → kopecks of a 2-decimal currency (ID401 = 0 → × 100). */
function toKopecks(value: number, decimals: number): number {
  return decimals <= 2 ? value * 10 ** (2 - decimals) : Math.round(value / 10 ** (decimals - 2))
}

/**
 * What the machine counted between `prev` and `cur` (`elapsedS` apart), by its profile. A change
 * of identity, profile or decimals, or a counter that fell with no plausible wrap, starts a new
 * baseline instead of raising a false alarm.
 */
export function countBetween(prev: ParsedAudit, cur: ParsedAudit, elapsedS: number): Counting {
  const profile = profileFor(cur.identity)
  if (!profile) return { kind: 'profile_unknown', reason: `no counter profile for maker ${(cur.identity.serial ?? '').slice(0, 3) || '—'} model ${cur.identity.model ?? '—'}` }
  const changed = identityChange(prev.identity, cur.identity)
  if (changed) return { kind: 'baseline', reason: changed }
  if (profileFor(prev.identity) !== profile) return { kind: 'baseline', reason: 'counter profile changed' }
  if (prev.decimals !== cur.decimals) return { kind: 'baseline', reason: `decimals changed: ${prev.decimals} → ${cur.decimals}` }
  const wraps: string[] = []
  const countMax = Math.max(1000, Math.ceil(elapsedS * MAX_VENDS_PER_S))
  const delta = (name: string, max: number): number | null => {
    const d = counterDelta(raw(prev.elements[name]), raw(cur.elements[name]), COUNTER_DIGITS[name] ?? 8, max)
    if (d?.wrappedAt) wraps.push(`${name} wrapped at ${d.wrappedAt}`)
    return d?.delta ?? null
  }
  const source = (s: CounterSource, less: readonly string[] = []): Money | string => {
    let count = 0
    for (const name of s.count) {
      const d = delta(name, countMax)
      if (d === null) return `${name} fell from ${raw(prev.elements[name])} to ${raw(cur.elements[name])}`
      count += d
    }
    let value = 0
    for (const name of [...s.value, ...less]) {
      const d = delta(name, Math.max(count, 1) * MAX_PRICE_RAW)
      if (d === null) return `${name} fell from ${raw(prev.elements[name])} to ${raw(cur.elements[name])}`
      value += less.includes(name) ? -d : d
    }
    return { value: toKopecks(value, cur.decimals), count }
  }
  const total = source(profile.paid, profile.less)
  const cash = profile.cash ? source(profile.cash) : null
  const cashless = profile.cashless ? source(profile.cashless, profile.less) : null
  for (const part of [total, cash, cashless]) {
    if (typeof part === 'string') return { kind: 'baseline', reason: `${part}: no wrap explains it` }
  }
  return { kind: 'counted', profile, counted: { total: total as Money, cash: cash as Money | null, cashless: cashless as Money | null }, wraps }
}

export type Verdict = 'ok' | 'unreceipted' | 'over' | 'corrected'

export interface Difference { total: Money; cash: Money | null; cashless: Money | null }

/** Counted − receipted, per payment kind the audit splits; positive means vends without a receipt. */
export function difference(counted: Split, receipted: Split): Difference {
  const minus = (a: Money | null, b: Money | null): Money | null => (a === null ? null : { value: a.value - (b?.value ?? 0), count: a.count - (b?.count ?? 0) })
  return { total: minus(counted.total, receipted.total)!, cash: minus(counted.cash, receipted.cash), cashless: minus(counted.cashless, receipted.cashless) }
}

/**
 * Counted − receipted of each payment kind the audit splits (the kind it does not count is the
 * total less the other), or null when it splits none. Kinds are never netted against each other: a
 * card receipt too many does not receipt a cash vend.
 */
function byKind(diff: Difference): { cash: Money; cashless: Money } | null {
  const rest = (known: Money): Money => ({ value: diff.total.value - known.value, count: diff.total.count - known.count })
  if (diff.cash && diff.cashless) return { cash: diff.cash, cashless: diff.cashless }
  if (diff.cash) return { cash: diff.cash, cashless: rest(diff.cash) }
  if (diff.cashless) return { cash: rest(diff.cashless), cashless: diff.cashless }
  return null
}

/**
 * Unreceipted when any payment kind has vends without a receipt, over when none has and some kind
 * has receipts too many. Zero-price paid vends need no money receipt, so only the value decides
 * (EVA-DTS 6.2 Appendix A).
 */
export function verdictOf(diff: Difference, corrected: boolean): Verdict {
  if (corrected) return 'corrected'
  const kinds = byKind(diff)
  const parts = kinds ? [kinds.cash, kinds.cashless] : [diff.total]
  if (parts.some((p) => p.value > 0)) return 'unreceipted'
  if (parts.some((p) => p.value < 0)) return 'over'
  return 'ok'
}

/**
 * The amounts a correction receipt carries for an unreceipted difference: each payment kind's
 * shortfall, cash (1031) and electronic (1081), as the audit split them (an over-receipt of one kind
 * is left to the operator, never set against the other); all cash when it does not split.
 */
export function correctionAmounts(diff: Difference): { total: number; cash: number; ecash: number; vends: number } {
  const kinds = byKind(diff)
  if (!kinds) {
    const total = Math.max(0, diff.total.value)
    return { total, cash: total, ecash: 0, vends: total > 0 ? Math.max(0, diff.total.count) : 0 }
  }
  const short = (m: Money): Money => (m.value > 0 ? { value: m.value, count: Math.max(0, m.count) } : { value: 0, count: 0 })
  const cash = short(kinds.cash)
  const ecash = short(kinds.cashless)
  return { total: cash.value + ecash.value, cash: cash.value, ecash: ecash.value, vends: cash.count + ecash.count }
}
