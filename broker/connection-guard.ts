import type { Duplex } from 'node:stream'

// Sockets that have not logged in yet, bounded per remote address and in all. At a bound the oldest
// such socket is closed to make room, never the new one: an honest client sends CONNECT within
// milliseconds and logs in long before it becomes the oldest, while sockets that stay silent (a
// slow-connect flood) only ever push out one another. The per-address bound takes only sockets
// silent for `minAgeMs`: behind a load balancer every machine has its address, and a reconnect storm
// through it must not close logins that are merely waiting their turn (the total bound still holds).
// Logged-in connections are counted by the broker's own caps (BROKER_MAX_CONNECTIONS for machines,
// a reserve for gateways), so silent sockets can take none of their room.

export interface ConnectionGuardOptions {
  perAddress: number
  max: number
  /** ms a socket must have been silent before the per-address bound closes it; default 1000. */
  minAgeMs?: number
  now?: () => number
}

export interface ConnectionGuard {
  /** Tracks a new socket until it logs in or closes; may close older ones to stay within bounds. */
  admit(conn: Duplex, address: string | undefined): void
  /** The socket logged in: no longer counted here. */
  loggedIn(conn: Duplex): void
  stats(): { prelogin: number; evicted: number }
}

export function createConnectionGuard(o: ConnectionGuardOptions): ConnectionGuard {
  // Insertion order is age: the first entry is the oldest.
  const all = new Map<Duplex, string>()
  const byAddress = new Map<string, Set<Duplex>>()
  const since = new WeakMap<Duplex, number>()
  const now = o.now ?? Date.now
  const minAgeMs = o.minAgeMs ?? 1000
  let evicted = 0

  function forget(conn: Duplex): void {
    const address = all.get(conn)
    if (address === undefined) return
    all.delete(conn)
    const set = byAddress.get(address)
    set?.delete(conn)
    if (set?.size === 0) byAddress.delete(address)
  }

  function evict(conn: Duplex): void {
    forget(conn)
    evicted++
    conn.destroy()
  }

  return {
    admit(conn, address) {
      const key = address ?? 'unknown'
      const t = now()
      const mine = byAddress.get(key)
      const oldest = mine && mine.size >= o.perAddress ? mine.values().next().value! : undefined
      if (oldest && t - (since.get(oldest) ?? 0) >= minAgeMs) evict(oldest)
      if (all.size >= o.max) evict(all.keys().next().value!)
      all.set(conn, key)
      since.set(conn, t)
      if (mine && byAddress.has(key)) mine.add(conn)
      else byAddress.set(key, new Set([conn]))
      conn.once('close', () => forget(conn))
    },
    loggedIn: forget,
    stats: () => ({ prelogin: all.size, evicted }),
  }
}
