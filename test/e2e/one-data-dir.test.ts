import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDatabase } from '../../gateway/db/database.js'
import { parseReceiptQr } from '../../protocol/index.js'
import { waitFor } from '../support/wait.js'

const run = promisify(execFile)

// The embedded data directory belongs to one process. Repeats a user's session with real
// processes: `npm start` twice on one folder, `npm run gateway` and `npm run fleet` beside it, a
// SIGKILL and a restart, a damaged directory and the command that moves it aside.

interface Started { child: ChildProcess; output(): string; exited: Promise<number | null> }

describe('one embedded data directory, one process', () => {
  const root = mkdtempSync(join(tmpdir(), 'vt-one-dir-'))
  const dataDir = join(root, 'data')
  const env = { ...process.env, DATA_DIR: dataDir, HTTP_PORT: '0', MQTT_PORT: '0', DATABASE_URL: '', LOG_LEVEL: 'warn' }
  const started: Started[] = []

  /** `node --import tsx <script>` (what the npm script runs), in a process group of its own; `wrap` runs it under another program. */
  function start(script: string, args: string[] = [], wrap: string[] = []): Started {
    const argv = [...wrap, process.execPath, '--import', 'tsx', script, ...args]
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    let out = ''
    child.stdout!.on('data', (chunk: Buffer) => { out += chunk.toString() })
    child.stderr!.on('data', (chunk: Buffer) => { out += chunk.toString() })
    const s = { child, output: () => out, exited: new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code))) }
    started.push(s)
    return s
  }

  const RECEIPT = /^receipt\s+\S+\s+.*?(t=\S+)\s+http\S+$/m
  async function firstReceipt(s: Started): Promise<void> {
    const died = s.exited.then((code) => { throw new Error(`exited with ${code}:\n${s.output()}`) })
    await Promise.race([died, waitFor(() => RECEIPT.test(s.output()), 'a receipt line', 120_000)])
    died.catch(() => {})
  }
  /** Every receipt a process printed, as (fn, fd, fiscal sign). */
  const receipts = (s: Started) => [...s.output().matchAll(new RegExp(RECEIPT, 'gm'))].map((m) => parseReceiptQr(m[1]!)!)

  /** The data directory's paths that a traced process opened, created, renamed, removed or truncated. */
  function touched(traceFile: string): string[] {
    const trace = readFileSync(traceFile, 'utf8')
    expect(trace, 'strace saw the process look at the directory').toContain(`"${dataDir}`)
    return trace.split('\n').filter((line) =>
      /\b(open|openat|openat2|creat|mkdir|mkdirat|rename|renameat2?|unlink|unlinkat|rmdir|truncate|link|linkat|symlink|symlinkat|chmod|fchmodat|utimensat)\(/.test(line) &&
      line.includes(`"${dataDir}`))
  }

  beforeAll(async () => {
    // The refused process is traced to show it opened nothing in the directory.
    await run('strace', ['-V']).catch(() => { throw new Error('this test needs strace (apt-get install strace)') })
  })

  afterAll(async () => {
    for (const s of started) if (s.child.pid && s.child.exitCode === null && s.child.signalCode === null) process.kill(-s.child.pid, 'SIGKILL')
    await Promise.all(started.map((s) => s.exited))
    rmSync(root, { recursive: true, force: true })
  })

  it('refuses a second start with one line naming the holder, serves the fleet CLI, and restarts cleanly after SIGKILL', { timeout: 400_000 }, async () => {
    const first = start('scripts/start.ts')
    await firstReceipt(first)
    const mqttPort = /MQTT broker\s+mqtt:\/\/127\.0\.0\.1:(\d+)/.exec(first.output())![1]
    const httpPort = /console\s+http:\/\/localhost:(\d+)\//.exec(first.output())![1]
    const holder = new RegExp(`^DATA_DIR ${dataDir} is in use by process ${first.child.pid} \\(npm start, MQTT ${mqttPort}, HTTP ${httpPort}, database 127\\.0\\.0\\.1:\\d+\\): stop it, set another DATA_DIR, or reach it with \`npm run fleet -- list\`$`)

    // A second `npm start`, traced: refused at once with one line, having opened no file of the directory.
    const trace = join(root, 'second.strace')
    const second = start('scripts/start.ts', [], ['strace', '-f', '-qq', '-e', 'trace=%file,%desc', '-o', trace])
    expect(await second.exited).toBe(1)
    const lines = second.output().trimEnd().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]!.replace(/^start: /, '')).toMatch(holder)
    expect(touched(trace)).toEqual([])

    // `npm run gateway` is refused the same way.
    const gateway = start('gateway/main.ts')
    expect(await gateway.exited).toBe(1)
    expect(gateway.output().trimEnd().split('\n').map((l) => l.replace(/^gateway: /, ''))).toEqual([expect.stringMatching(holder)])

    // `npm run fleet` goes through the running process, opening none of the files itself.
    const fleetTrace = join(root, 'fleet.strace')
    const { stdout } = await run('strace', ['-f', '-qq', '-e', 'trace=%file,%desc', '-o', fleetTrace, process.execPath, '--import', 'tsx', 'gateway/fleet/main.ts', 'list'], { env, timeout: 60_000 })
    const listed = JSON.parse(stdout) as { kassas: { id: string; next_fd: number }[]; machines: unknown[] }
    expect(listed.kassas.map((k) => k.id)).toEqual(['DEMO'])
    expect(listed.machines).toHaveLength(5)
    expect(touched(fleetTrace)).toEqual([])

    // The holder is killed; the next start takes the directory, provisions the demo again and signs on.
    const signedBefore = receipts(first)
    process.kill(-first.child.pid!, 'SIGKILL')
    await first.exited
    const restarted = start('scripts/start.ts')
    await firstReceipt(restarted)
    const { stdout: verifyOut } = await run('npm', ['run', '-s', 'fleet', '--', 'verify'], { env, timeout: 60_000 })
    const verify = JSON.parse(verifyOut) as { ok: boolean; receipts: number; failureCount: number }
    expect(verify).toMatchObject({ ok: true, failureCount: 0 })
    process.kill(-restarted.child.pid!, 'SIGINT')
    expect(await restarted.exited).toBe(0)

    // No fiscal document number was issued twice: not among the receipts the two processes printed,
    // and not in the database, where every printed receipt is stored with the sign it was printed with.
    const printed = [...signedBefore, ...receipts(restarted)]
    expect(printed.length).toBeGreaterThan(1)
    // A display delivered again (its outbox row was unsent at the kill) prints the same document
    // twice; a number issued twice would print two documents: another sign or another total.
    const byNumber = new Map<string, Set<string>>()
    for (const r of printed) byNumber.set(`${r.fn}/${r.i}`, (byNumber.get(`${r.fn}/${r.i}`) ?? new Set()).add(`${r.fp}/${r.s}`))
    expect([...byNumber].filter(([, docs]) => docs.size > 1)).toEqual([])
    const database = await openDatabase({ dataDir, role: 'test' })
    try {
      const dups = await sql<{ n: number }>`select count(*)::int as n from (select fn, fd from fiscal_documents group by fn, fd having count(*) > 1) d`.execute(database.db)
      expect(dups.rows[0]!.n).toBe(0)
      const stored = await database.db.selectFrom('fiscal_documents').select(['fn', 'fd', 'fp']).execute()
      const signs = new Map(stored.map((d) => [`${d.fn}/${d.fd}`, d.fp]))
      for (const r of printed) expect(signs.get(`${r.fn}/${r.i}`), `FD ${r.i}`).toBe(r.fp)
      expect(stored.length).toBeGreaterThanOrEqual(verify.receipts)
    } finally {
      await database.close()
    }
  })

  it('names a damaged directory and the command that moves it aside, which then starts fresh', { timeout: 300_000 }, async () => {
    expect(readdirSync(dataDir)).toContain('PG_VERSION') // the directory the first test left
    truncateSync(join(dataDir, 'global', 'pg_control'), 100)

    const damaged = start('scripts/start.ts')
    expect(await damaged.exited).toBe(1)
    expect(damaged.output()).not.toMatch(/RuntimeError|wasm|\n\s+at /)
    expect(damaged.output().trimEnd().split('\n')).toEqual([
      `start: DATA_DIR ${dataDir} cannot be opened as a database: could not read file "global/pg_control": read 100 of 296. ` +
      `To move it aside (kept as ${dataDir}.aside-<time>) and start with an empty database: \`npm start -- --fresh\``,
    ])

    const fresh = start('scripts/start.ts', ['--fresh'])
    await firstReceipt(fresh)
    const aside = /^moved \S+ aside to (\S+); starting with an empty database$/m.exec(fresh.output())?.[1]
    expect(aside).toMatch(new RegExp(`^${dataDir}\\.aside-\\d{8}T\\d{6}Z$`))
    expect(statSync(join(aside!, 'global', 'pg_control')).size).toBe(100) // kept as it was, for inspection
    expect(receipts(fresh)[0]!.i).toBeLessThan(10) // a new FN history: the first documents of a fresh database
    process.kill(-fresh.child.pid!, 'SIGINT')
    expect(await fresh.exited).toBe(0)
  })
})
