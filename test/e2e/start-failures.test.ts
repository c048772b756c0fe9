import { execFile } from 'node:child_process'
import { createServer, type Server } from 'node:net'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, TEST_SERVER_URL, type TestDatabase } from '../support/database.js'
import { freePort } from '../support/processes.js'

const run = promisify(execFile)

// Each part started for real with a bad setting: it must stop with one or two lines on stderr
// (what failed, the cause, what to do) and no stack unless LOG_LEVEL=debug.
async function startFails(script: string, env: Record<string, string>): Promise<string[]> {
  const result = await run(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, HTTP_PORT: '0', MQTT_PORT: '0', LOG_LEVEL: 'warn', DATA_DIR: '', ...env }, timeout: 60_000,
  }).then(() => null, (err: { code: number; stderr: string }) => err)
  expect(result, `${script} should have failed to start`).not.toBeNull()
  expect(result!.code).toBe(1)
  // Warnings the process logged before failing are JSON lines; the failure is plain text.
  return result!.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('{'))
}

const withDatabase = (name: string, user = 'postgres') => {
  const url = new URL(TEST_SERVER_URL)
  url.pathname = `/${name}`
  url.username = user
  return url.toString()
}

describe('a start that fails says why in one or two lines', () => {
  let database: TestDatabase
  let holder: Server
  let takenPort: number
  beforeAll(async () => {
    database = await createTestDatabase()
    // A port-holder only: whatever connects is cut at once, so close() never waits on a socket
    // (another test's client that drew this port from freePort() would otherwise hold it open).
    holder = createServer((socket) => socket.destroy())
    await new Promise<void>((resolve) => holder.listen(0, '0.0.0.0', resolve))
    takenPort = (holder.address() as { port: number }).port
  })
  afterAll(async () => {
    await new Promise<void>((resolve) => holder.close(() => resolve()))
    await database.drop()
  })

  it('gateway: nothing listens at the database address', async () => {
    const port = await freePort()
    expect(await startFails('gateway/main.ts', { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/x` })).toEqual([
      `gateway: cannot start: GW_ERR_MIGRATION: could not open the database: connect ECONNREFUSED 127.0.0.1:${port}`,
      '  is PostgreSQL running there? Check the host and port in DATABASE_URL',
    ])
  })

  it('gateway: the database does not exist, or the role', async () => {
    const missing = await startFails('gateway/main.ts', { DATABASE_URL: withDatabase('vt_no_such_database') })
    expect(missing[0]).toBe('gateway: cannot start: GW_ERR_MIGRATION: could not open the database: database "vt_no_such_database" does not exist')
    expect(missing[1]).toMatch(/^ {2}create it .* or point DATABASE_URL at one that exists$/)
    expect(missing).toHaveLength(2)
    const role = await startFails('gateway/main.ts', { DATABASE_URL: withDatabase('postgres', 'vt_no_such_role') })
    expect(role[0]).toBe('gateway: cannot start: GW_ERR_MIGRATION: could not open the database: role "vt_no_such_role" does not exist')
    expect(role).toHaveLength(2)
  })

  it('gateway: the HTTP port is taken, by which process', async () => {
    expect(await startFails('gateway/main.ts', { DATABASE_URL: database.url, HTTP_PORT: String(takenPort) })).toEqual([
      expect.stringMatching(new RegExp(`^gateway: cannot start: port ${takenPort} is taken by pid ${process.pid} \\(`)),
      '  stop that process, or set HTTP_PORT to a free port',
    ])
  })

  it('gateway: the stack only at LOG_LEVEL=debug', async () => {
    const lines = await startFails('gateway/main.ts', { DATABASE_URL: withDatabase('vt_no_such_database'), LOG_LEVEL: 'debug' })
    expect(lines[0]).toContain('database "vt_no_such_database" does not exist')
    expect(lines.some((l) => /^\s+at /.test(l))).toBe(true)
  })

  it('broker: the MQTT port is taken, and the database does not exist', async () => {
    expect(await startFails('scripts/broker.ts', { DATABASE_URL: database.url, MQTT_PORT: String(takenPort) })).toEqual([
      expect.stringMatching(new RegExp(`^broker: cannot start: port ${takenPort} is taken by pid ${process.pid} \\(`)),
      '  stop that process, or set MQTT_PORT to a free port',
    ])
    const missing = await startFails('scripts/broker.ts', { DATABASE_URL: withDatabase('vt_no_such_database') })
    expect(missing).toEqual(['broker: cannot start: database "vt_no_such_database" does not exist', expect.stringMatching(/^ {2}create it/)])
  })

  it('npm start: the database it was given cannot be reached', async () => {
    const port = await freePort()
    expect(await startFails('scripts/start.ts', { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/x` })).toEqual([
      `start: cannot start: GW_ERR_MIGRATION: could not open the database: connect ECONNREFUSED 127.0.0.1:${port}`,
      '  is PostgreSQL running there? Check DATABASE_URL, or unset it for the embedded database',
    ])
  })
})
