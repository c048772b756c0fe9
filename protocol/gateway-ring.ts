// Which gateway fiscalizes a kassa: the live gateway with the highest rendezvous score for it
// (highest random weight hashing). Every broker and every gateway computes the same owner from the
// same set of live gateways, with no coordination; when a gateway joins or leaves, only the kassas
// it wins or held move. Pure: the set is fed by heartbeats (stored-kick.ts gatewayAliveTopic).
//
// Ownership decides who is woken, never who may sign: the FN row lock stays the only claim, so two
// views of the set that differ for a moment cost a wasted claim at most, never a second document.

/** FNV-1a, 32 bits, over UTF-16 code units: fast, stable across processes and Node versions. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  // Final avalanche (murmur3 fmix32), so ids that differ in the last character spread evenly.
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** The owner of `kassaId` among `gateways`; undefined when there is none. Ties go to the smaller id. */
export function kassaOwner(kassaId: string, gateways: readonly string[]): string | undefined {
  let best: string | undefined
  let bestScore = -1
  for (const gateway of gateways) {
    const score = fnv1a(`${kassaId}\u0000${gateway}`)
    if (score > bestScore || (score === bestScore && best !== undefined && gateway < best)) {
      best = gateway
      bestScore = score
    }
  }
  return best
}

/**
 * Heartbeat period of a gateway (ms); how long one is held live after its last heartbeat; and after
 * how long without one its kicks also go to a second gateway. A gateway whose broker dies cannot
 * say so: for `GATEWAY_LIVE_TTL_MS` the others still count it, and its kassas' kicks would be lost
 * (their sales waiting for a poll) but for the second addressee, from `GATEWAY_SUSPECT_MS` on.
 */
export const GATEWAY_HEARTBEAT_MS = 250
export const GATEWAY_LIVE_TTL_MS = 1000
export const GATEWAY_SUSPECT_MS = 400

/**
 * Where a kick goes: each kassa to its owner among `gateways`, and also to its owner among the
 * others when the first is `suspect` (not heard from lately). All under `null` when none is known.
 */
export function kickAddressees(kassaIds: Iterable<string>, gateways: readonly string[], suspect: (id: string) => boolean): Map<string | null, string[]> {
  const groups = new Map<string | null, string[]>()
  const add = (to: string | null, id: string) => {
    const group = groups.get(to)
    if (group) group.push(id)
    else groups.set(to, [id])
  }
  for (const id of kassaIds) {
    const owner = kassaOwner(id, gateways)
    add(owner ?? null, id)
    if (owner === undefined || !suspect(owner)) continue
    const backup = kassaOwner(id, gateways.filter((g) => g !== owner))
    if (backup !== undefined) add(backup, id)
  }
  return groups
}

/** The gateways heard from within the TTL. `self` (a gateway's own id) is always live. */
export class LiveGateways {
  readonly #lastSeen = new Map<string, number>()
  #list: string[] = []
  #listAt = -Infinity

  constructor(private readonly o: { self?: string; ttlMs?: number; suspectMs?: number; now?: () => number } = {}) {}

  #now(): number {
    return this.o.now?.() ?? Date.now()
  }

  /** A heartbeat; `leaving` removes the gateway at once. */
  seen(id: string, leaving = false): void {
    const known = this.#lastSeen.has(id)
    if (leaving) this.#lastSeen.delete(id)
    else this.#lastSeen.set(id, this.#now())
    if (leaving === known) this.#listAt = -Infinity // joined or left: recompute now
  }

  /** Sorted ids of the live gateways (recomputed at most every 50 ms). */
  list(): readonly string[] {
    const now = this.#now()
    if (now - this.#listAt < 50) return this.#list
    const ttl = this.o.ttlMs ?? GATEWAY_LIVE_TTL_MS
    const live = new Set<string>()
    for (const [id, at] of this.#lastSeen) {
      if (now - at <= ttl) live.add(id)
      else this.#lastSeen.delete(id)
    }
    if (this.o.self !== undefined) live.add(this.o.self)
    this.#list = [...live].sort()
    this.#listAt = now
    return this.#list
  }

  /** Live, but not heard from for `suspectMs`: its broker may be gone. Never `self`. */
  suspect(id: string): boolean {
    if (id === this.o.self) return false
    const at = this.#lastSeen.get(id)
    return at === undefined || this.#now() - at > (this.o.suspectMs ?? GATEWAY_SUSPECT_MS)
  }

  /** This process's gateway (`self`) owns the kassa in its current view. */
  owns(kassaId: string): boolean {
    return this.o.self !== undefined && kassaOwner(kassaId, this.list()) === this.o.self
  }
}
