import type { PGlite } from '@electric-sql/pglite'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'
import { DataDirBusyError, findHolder, type DataDirLock } from './data-dir.lock.js'
import type { PGliteTurns } from './pglite.dialect.js'

// PGlite is one process's database. While `npm start` or `npm run gateway` holds an embedded
// directory, it serves its PGlite over the PostgreSQL wire protocol on loopback and announces the
// port through the directory's lock (data-dir.lock.ts), so `npm run fleet` reaches the same data
// through it instead of opening the files a second time. Nothing is written to the directory: no
// note that a killed process would leave behind, or that another process could remove.

export async function serveEmbedded(pglite: PGlite, turns: PGliteTurns, lock: DataDirLock): Promise<{ url: string; stop(): Promise<void> }> {
  const server = new PGLiteSocketServer({ db: takingTurns(pglite, turns), host: '127.0.0.1', port: 0 })
  await server.start()
  const port = Number(server.getServerConn().split(':').pop())
  lock.announce({ dbPort: port })
  return {
    url: embeddedUrl(port),
    stop: () => server.stop(),
  }
}

/**
 * PGlite as the socket server sees it: each client message runs in a turn at the connection
 * (pglite.dialect.ts, PGliteTurns), so it never lands inside this process's transaction, and a
 * client that leaves a transaction open keeps the turn until it commits, rolls back or disconnects
 * (the server then rolls it back), so none of this process's statements lands inside the client's.
 * "In a transaction" is the client's alone: the server rolls back on disconnect only what its
 * client opened.
 */
function takingTurns(pglite: PGlite, turns: PGliteTurns): PGlite {
  let held: (() => void) | null = null
  async function inTurn<T>(work: () => Promise<T>): Promise<T> {
    held ??= await turns.take()
    try {
      return await work()
    } finally {
      if (held && !pglite.isInTransaction()) { const release = held; held = null; release() }
    }
  }
  return new Proxy(pglite, {
    get(target, property) {
      if (property === 'runExclusive') return <T>(fn: () => Promise<T>) => inTurn(() => target.runExclusive(fn))
      if (property === 'exec') return (...args: Parameters<PGlite['exec']>) => inTurn(() => target.exec(...args))
      if (property === 'isInTransaction') return () => held !== null && target.isInTransaction()
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    },
  })
}

const embeddedUrl = (port: number) => `postgres://postgres@127.0.0.1:${port}/postgres?sslmode=disable`

/**
 * The URL of the running process that holds DATA_DIR and serves it; null when no process holds it
 * (the caller may open it); DataDirBusyError when its holder does not serve it.
 */
export async function embeddedServerUrl(dataDir: string): Promise<string | null> {
  const holder = await findHolder(dataDir)
  if (!holder) return null
  if (holder.dbPort === undefined) throw new DataDirBusyError(dataDir, holder)
  return embeddedUrl(holder.dbPort)
}
