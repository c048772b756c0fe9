// Failed sign-ins per username: after `limit` failures within `windowMs` the name is refused
// until the window has passed, whatever the password, so guessing costs hours, not seconds.
// In memory: each gateway keeps its own count (a cluster of N allows N × limit), which still
// bounds guessing; scrypt's cost per try does the rest.
export function createLoginThrottle(opts: { limit: number; windowMs: number; now: () => Date }) {
  const failures = new Map<string, number[]>()
  const recent = (name: string) => {
    const since = opts.now().getTime() - opts.windowMs
    const kept = (failures.get(name) ?? []).filter((t) => t > since)
    if (kept.length > 0) failures.set(name, kept)
    else failures.delete(name)
    return kept
  }
  return {
    /** ms until `name` may try again; 0 when it may now. */
    waitMs(name: string): number {
      const kept = recent(name)
      return kept.length < opts.limit ? 0 : kept[0]! + opts.windowMs - opts.now().getTime()
    },
    failed(name: string): void { failures.set(name, [...recent(name), opts.now().getTime()]) },
    succeeded(name: string): void { failures.delete(name) },
  }
}
