// When the FN must refuse or act: lifetime, document capacity, shift length.
//
// Capacity rule: an open shift always keeps one document in reserve for its close report, so the
// FN never fills up mid-shift with no room to close. A receipt is refused (fn_full) unless the
// documents left cover it and that reserve: 2 when a shift is open (receipt + close), 3 when none
// is (open + receipt + close), 4 when the open shift is due (close + open + receipt + close).
import { FN_MODELS, type FnBlock, type FnState } from './fn.types.js'

/** An FN refuses a shift open longer than 24 h (docs/fiscal.md §3.2). */
export const SHIFT_LIMIT_MS = 24 * 60 * 60 * 1000
/** Close this long before the limit, so a slow batch or a late timer never crosses it. */
export const SHIFT_SAFETY_MS = 5 * 60 * 1000
export const DEFAULT_MAX_SHIFT_MS = SHIFT_LIMIT_MS - SHIFT_SAFETY_MS
export const DAY_MS = 24 * 60 * 60 * 1000

/** registeredAt + the model's lifetime in days; the FN is expired from this instant on. */
export function fnExpiresAt(state: FnState): Date {
  return new Date(state.registeredAt.getTime() + FN_MODELS[state.model] * DAY_MS)
}

export function shiftDue(state: FnState, now: Date, maxShiftMs: number): boolean {
  return state.shiftOpenedAt !== null && now.getTime() - state.shiftOpenedAt.getTime() >= maxShiftMs
}

export function expiredBlock(state: FnState, now: Date): FnBlock | null {
  const expiresAt = fnExpiresAt(state)
  if (expiresAt.getTime() > now.getTime()) return null
  return { code: 'fn_expired', message: `FN ${state.fn} (${state.model}) expired at ${expiresAt.toISOString()}` }
}

/** Documents a receipt signed now takes, its shift's close report included (the rule above). */
export function docsForReceipt(state: FnState, now: Date, maxShiftMs: number): number {
  if (state.shiftOpenedAt === null) return 3
  return shiftDue(state, now, maxShiftMs) ? 4 : 2
}

export function fullBlock(state: FnState, need: number): FnBlock | null {
  const left = state.docLimit - (state.nextFd - 1)
  if (left >= need) return null
  return { code: 'fn_full', message: `FN ${state.fn} has ${left} of ${state.docLimit} documents left; this needs ${need}` }
}
