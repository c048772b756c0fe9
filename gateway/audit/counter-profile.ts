// Which EVA-DTS elements hold a machine's paid sales, per maker and model. Makers differ: some
// count gross of discounts, some net; some split cash and cashless, some do not; some count free
// vends with the paid ones in product blocks (EVA-DTS 6.2 §5.2.3; real files of Rhea, FAG, N&W,
// Animo). A machine whose profile is not known is not reconciled: the answer says so.
import type { AuditIdentity } from './audit.types.js'

/** Element names whose values add up to one counter (lifetime, "since initialisation"). */
export interface CounterSource {
  value: readonly string[]
  count: readonly string[]
}

export interface CounterProfile {
  name: string
  /** For people: what the profile assumes. */
  note: string
  paid: CounterSource
  /** Absent when the maker does not split cash from cashless. */
  cash?: CounterSource
  cashless?: CounterSource
  /** Values subtracted from `paid.value` (discounts the maker counts gross). */
  less?: readonly string[]
  /** Its product blocks (PA2) count free vends with the paid ones: products cannot itemise a correction. */
  productsIncludeFree?: boolean
}

const STANDARD: Omit<CounterProfile, 'name' | 'note'> = {
  paid: { value: ['VA101'], count: ['VA102'] },
  cash: { value: ['CA201'], count: ['CA202'] },
  cashless: { value: ['DA201', 'DB201'], count: ['DA202', 'DB202'] },
}

interface ProfileRule {
  /** Appendix B maker code: the first three characters of ID101; absent: any maker with that model. */
  maker?: string
  /** ID102 model, when the maker's models differ. */
  model?: RegExp
  profile: CounterProfile
}

export const PROFILES: readonly ProfileRule[] = [
  { maker: 'SIM', profile: { name: 'sim', note: 'the project simulator: VA1 = CA2 + DA2, gross, no free vends', ...STANDARD } },
  { maker: 'RHV', profile: { name: 'rhea', note: 'Rheavendors: VA101 = CA201 + DA201 (discounts not netted)', ...STANDARD } },
  {
    maker: 'FAG',
    profile: { name: 'fag', note: 'FAG: VA101 = CA201 + DA201 − DA503, net of card discounts', ...STANDARD, cashless: { value: ['DA201'], count: ['DA202'] }, less: ['DA503'] },
  },
  {
    model: /kikko/i,
    profile: { name: 'nw-kikko', note: 'N&W Kikko: VA1 only; PA2 counts include free vends (ΣPA203 = VA104 + VA304)', paid: { value: ['VA101'], count: ['VA102'] }, productsIncludeFree: true },
  },
  {
    maker: 'ANI',
    profile: { name: 'animo', note: 'Animo: VA1 only, no cash/cashless split', paid: { value: ['VA101'], count: ['VA102'] } },
  },
]

/** The profile for a machine's identity, or null when none is known. */
export function profileFor(identity: AuditIdentity): CounterProfile | null {
  const serial = identity.serial ?? ''
  const rule = PROFILES.find((r) => (r.maker === undefined || serial.startsWith(r.maker)) && (r.model === undefined || r.model.test(identity.model ?? '')))
  return rule?.profile ?? null
}

/** EVA-DTS maximum digits of the lifetime counters (Appendix A); a counter restarts at 0 past it. */
export const COUNTER_DIGITS: Readonly<Record<string, number>> = {
  VA101: 8, VA102: 8, CA201: 8, CA202: 6, DA201: 8, DA202: 8, DB201: 8, DB202: 8, DA503: 8,
}
