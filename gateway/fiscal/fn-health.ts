// The FN's state as an operator reads it (dashboard, /api/kassas, metrics): capacity, expiry,
// shift age, and whether a receipt signed now would be refused.
import {
  DAY_MS, DEFAULT_MAX_SHIFT_MS, docsForReceipt, expiredBlock, fnExpiresAt, fullBlock,
} from './fn-limits.js'
import type { FnBlock, FnState } from './fn.types.js'

export interface FnHealth {
  docsUsed: number
  docsLeft: number
  fillRatio: number
  expiresAt: Date
  /** Whole days until expiry, 0 once expired. */
  daysLeft: number
  shiftOpen: boolean
  shiftAgeMs: number | null
  /** More than 90% of the document capacity used. */
  nearFull: boolean
  /** Why a receipt signed now would be refused, or null. */
  blocked: FnBlock | null
}

export function fnHealth(state: FnState, now: Date, maxShiftMs: number = DEFAULT_MAX_SHIFT_MS): FnHealth {
  const docsUsed = state.nextFd - 1
  const expiresAt = fnExpiresAt(state)
  const fillRatio = docsUsed / state.docLimit
  return {
    docsUsed,
    docsLeft: state.docLimit - docsUsed,
    fillRatio,
    expiresAt,
    daysLeft: Math.max(0, Math.floor((expiresAt.getTime() - now.getTime()) / DAY_MS)),
    shiftOpen: state.shiftOpenedAt !== null,
    shiftAgeMs: state.shiftOpenedAt === null ? null : now.getTime() - state.shiftOpenedAt.getTime(),
    nearFull: fillRatio > 0.9,
    blocked: expiredBlock(state, now) ?? fullBlock(state, docsForReceipt(state, now, maxShiftMs)),
  }
}
