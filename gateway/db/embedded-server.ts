import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { PGlite } from '@electric-sql/pglite'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'

// PGlite is one process's database. While `npm start` runs, it serves its PGlite over the
// PostgreSQL wire protocol on loopback and leaves this note in DATA_DIR, so `npm run fleet`
// reaches the same data through it instead of opening the files a second time.
const NOTE = '.embedded-server.json'

export interface EmbeddedServerNote { pid: number; port: number }

export async function serveEmbedded(pglite: PGlite, dataDir: string): Promise<{ url: string; stop(): Promise<void> }> {
  const server = new PGLiteSocketServer({ db: pglite, host: '127.0.0.1', port: 0 })
  await server.start()
  const address = server.getServerConn()
  const port = Number(address.split(':').pop())
  const note: EmbeddedServerNote = { pid: process.pid, port }
  writeFileSync(join(dataDir, NOTE), JSON.stringify(note))
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres?sslmode=disable`,
    stop: async () => {
      rmSync(join(dataDir, NOTE), { force: true })
      await server.stop()
    },
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The URL of a running `npm start` that holds DATA_DIR, or null when no process holds it. */
export function embeddedServerUrl(dataDir: string): string | null {
  let note: EmbeddedServerNote
  try {
    note = JSON.parse(readFileSync(join(dataDir, NOTE), 'utf8')) as EmbeddedServerNote
  } catch {
    return null
  }
  if (!alive(note.pid)) return null
  return `postgres://postgres@127.0.0.1:${note.port}/postgres?sslmode=disable`
}
