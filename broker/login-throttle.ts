// Failed logins, counted per source address and per machine id. After `failures` of them within a
// lockout period, the key is locked for `lockoutMs`; each failure while locked doubles the lockout,
// up to `lockoutMaxMs`, and a quiet period as long as the lockout forgets the key.
//
// A lockout sheds work, not machines: while locked, a login is checked only against what the broker
// holds in memory (a keyed hash, microseconds), never with a database read or a scrypt check. The
// right secret still gets in, so an attacker sharing a machine's address or knowing its id cannot
// lock it out, and a flood costs microseconds an attempt. Guessing stays hopeless: a secret is 192
// random bits.

export interface LoginThrottleOptions {
  failures: number
  lockoutMs: number
  lockoutMaxMs: number
  /** Keys remembered at most (addresses and ids together); the least recent go first. */
  maxKeys?: number
}

interface Entry { failures: number; lockedUntil: number; lockoutMs: number; lastFailure: number }

export interface LoginThrottle {
  /** True while the key is locked out. */
  locked(key: string, now: number): boolean
  /** Counts a failure; true when it locked the key (or extended its lockout). */
  fail(key: string, now: number): boolean
  /** Forgets a key's failures (a machine id that logged in). */
  clear(key: string): void
  size(): number
}

export const addressKey = (address: string): string => `a:${address}`
export const machineKey = (id: string): string => `m:${id}`

export function createLoginThrottle(o: LoginThrottleOptions): LoginThrottle {
  const maxKeys = o.maxKeys ?? 100_000
  // Insertion order is recency order: a touched key is deleted and set again.
  const entries = new Map<string, Entry>()

  function current(key: string, now: number): Entry | undefined {
    const e = entries.get(key)
    if (!e) return undefined
    // Quiet for as long as its lockout (or the base one): forgotten.
    if (now > Math.max(e.lockedUntil, e.lastFailure + Math.max(e.lockoutMs, o.lockoutMs))) {
      entries.delete(key)
      return undefined
    }
    return e
  }

  return {
    locked: (key, now) => (current(key, now)?.lockedUntil ?? 0) > now,
    fail(key, now) {
      const e = current(key, now) ?? { failures: 0, lockedUntil: 0, lockoutMs: 0, lastFailure: now }
      entries.delete(key)
      e.failures++
      e.lastFailure = now
      let locked = false
      if (e.lockedUntil > now) {
        e.lockoutMs = Math.min(e.lockoutMs * 2, o.lockoutMaxMs)
        e.lockedUntil = now + e.lockoutMs
        locked = true
      } else if (e.failures >= o.failures) {
        e.lockoutMs = e.lockoutMs === 0 ? o.lockoutMs : Math.min(e.lockoutMs * 2, o.lockoutMaxMs)
        e.lockedUntil = now + e.lockoutMs
        e.failures = 0
        locked = true
      }
      entries.set(key, e)
      if (entries.size > maxKeys) entries.delete(entries.keys().next().value!)
      return locked
    },
    clear: (key) => { entries.delete(key) },
    size: () => entries.size,
  }
}
