import type { PGlite } from '@electric-sql/pglite'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'
import { DataDirBusyError, findHolder, type DataDirLock } from './data-dir.lock.js'

// PGlite is one process's database. While `npm start` or `npm run gateway` holds an embedded
// directory, it serves its PGlite over the PostgreSQL wire protocol on loopback and announces the
// port through the directory's lock (data-dir.lock.ts), so `npm run fleet` reaches the same data
// through it instead of opening the files a second time. Nothing is written to the directory: no
// note that a killed process would leave behind, or that another process could remove.

export async function serveEmbedded(pglite: PGlite, lock: DataDirLock): Promise<{ url: string; stop(): Promise<void> }> {
  const server = new PGLiteSocketServer({ db: pglite, host: '127.0.0.1', port: 0 })
  await server.start()
  const port = Number(server.getServerConn().split(':').pop())
  lock.announce({ dbPort: port })
  return {
    url: embeddedUrl(port),
    stop: () => server.stop(),
  }
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
