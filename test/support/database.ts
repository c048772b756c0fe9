import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { openDatabase, type DatabaseHandle } from '../../gateway/db/database.js'
import { migrateToLatest } from '../../gateway/db/migrate.js'

/** The server tests run against: `DATABASE_URL` (CI sets it) or the local default. */
export const TEST_SERVER_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

export interface TestDatabase {
  url: string
  handle: DatabaseHandle
  /** Closes the handle and drops the database. */
  drop(): Promise<void>
}

function urlFor(database: string): string {
  const url = new URL(TEST_SERVER_URL)
  url.pathname = `/${database}`
  return url.toString()
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_SERVER_URL })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** A fresh, migrated database of its own for one test file, so files run in parallel. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `vt_test_${process.pid}_${randomBytes(4).toString('hex')}`
  await admin((c) => c.query(`create database ${name}`))
  const url = urlFor(name)
  const handle = await openDatabase({ url, dataDir: '' })
  await migrateToLatest(handle.db)
  return {
    url,
    handle,
    drop: async () => {
      await handle.close()
      await admin((c) => c.query(`drop database if exists ${name} with (force)`))
    },
  }
}
