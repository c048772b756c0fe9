import { spawn, type ChildProcess } from 'node:child_process'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { PROJECT_ROOT } from '../../scripts/chaos/service-process.js'
import { TEST_SERVER_URL } from '../support/database.js'

// `npm run chaos` as CI runs it: a minute of sales at 200/s through two gateway processes while
// gateways are SIGKILLed, the broker is killed and restarted, and the database is cut off. The
// harness (scripts/chaos.ts) judges from both ends, the machines' receipts and the database's
// documents; this test reads its verdict.

const ARGS = ['--duration', '60', '--rate', '200', '--machines', '50', '--kills', '5', '--broker-restarts', '1', '--db-cuts', '1', '--db-cut-ms', '6000', '--drain', '150', '--json']

describe('npm run chaos', () => {
  let harness: ChildProcess | null = null

  afterAll(async () => {
    // The harness runs in its own process group with its broker and gateways: one kill ends them all.
    if (harness?.pid !== undefined && harness.exitCode === null) process.kill(-harness.pid, 'SIGKILL')
    // A harness killed before its cleanup leaves its database behind (named after its pid).
    if (harness?.pid !== undefined) {
      const client = new pg.Client({ connectionString: TEST_SERVER_URL })
      await client.connect()
      const left = await client.query<{ datname: string }>(`select datname from pg_database where datname like $1`, [`vt_chaos_${harness.pid}_%`])
      for (const { datname } of left.rows) await client.query(`drop database if exists ${datname} with (force)`)
      await client.end()
    }
  })

  it('ends with every sale receipted exactly once, gapless and correctly signed, through kills, a broker restart and a database cut', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/chaos.ts', ...ARGS], {
      cwd: PROJECT_ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DATABASE_URL: TEST_SERVER_URL },
    })
    harness = child
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (c: Buffer) => { stdout += c.toString() })
    child.stderr!.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-20_000) })
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
    const verdict = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, any>
    const summary = JSON.stringify({ ...verdict, stops: undefined, unexpectedExits: undefined })
    expect(code, `${summary}\n${stderr.slice(-4000)}`).toBe(0)
    expect(verdict.ok, summary).toBe(true)
    expect(verdict.sent).toBe(12_000) // 60 s × 200/s: the fleet sells on schedule whatever is down
    expect(verdict).toMatchObject({ lost: 0, duplicateReceipts: 0, fdGaps: 0, signFailures: 0, verifyFailures: 0, rejected: 0, gatewayCrashes: 0 })
    expect(verdict.receipted).toBe(verdict.sent)
    expect(verdict.receiptsInDatabase).toBe(verdict.sent)
    expect(verdict.gatewayKills).toBeGreaterThanOrEqual(5)
    expect(verdict.brokerRestarts).toBeGreaterThanOrEqual(1)
    expect(verdict.dbCuts).toBeGreaterThanOrEqual(1)
    console.log(`chaos verdict: ${summary}`)
  }, 420_000)
})
