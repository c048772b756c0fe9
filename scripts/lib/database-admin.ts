import { randomBytes } from 'node:crypto'
import { createServer, type AddressInfo } from 'node:net'
import pg from 'pg'

// What the bench and the chaos harness both need around their throw-away databases and processes.

/** The same server URL naming another database. */
export function withDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl)
  url.pathname = `/${database}`
  return url.toString()
}

/** One statement on its own connection (CREATE/DROP DATABASE cannot run in a pool's transaction). */
export async function admin(serverUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl })
  await client.connect()
  try {
    await client.query(statement)
  } finally {
    await client.end()
  }
}

/** A fresh database on the server, named after this process; `drop` removes it (once, whoever is still connected). */
export async function createScratchDatabase(serverUrl: string, prefix: string): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${process.pid}_${randomBytes(3).toString('hex')}`
  await admin(serverUrl, `create database ${name}`)
  let dropped = false
  return {
    name, url: withDatabase(serverUrl, name),
    drop: async () => {
      if (dropped) return
      dropped = true
      await admin(serverUrl, `drop database if exists ${name} with (force)`)
    },
  }
}

/** A port free right now, for a process that must keep the same port across its restarts. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}
