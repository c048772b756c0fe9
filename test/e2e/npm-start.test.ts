import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { parseReceiptQr } from '../../protocol/index.js'
import { waitFor } from '../support/wait.js'

const run = promisify(execFile)

describe('npm start', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vt-start-'))
  const env = { ...process.env, DATA_DIR: dataDir, HTTP_PORT: '0', MQTT_PORT: '0', DATABASE_URL: '', LOG_LEVEL: 'warn' }
  let child: ChildProcess | null = null

  afterAll(() => {
    if (child?.pid && child.exitCode === null) process.kill(-child.pid, 'SIGKILL')
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('runs the whole system on the embedded database, prints receipts, serves the fleet CLI, and stops cleanly on Ctrl-C', { timeout: 180_000 }, async () => {
    // Exactly what `npm start` runs, without npm in between (npm dies of the signal itself rather than
    // reporting its child's status); a process group of its own, so the test can press Ctrl-C the way
    // a terminal does: SIGINT to the whole group.
    const scripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts
    expect(scripts.start).toBe('tsx scripts/start.ts')
    // node with tsx's loader rather than the tsx wrapper, which may exit 130 on SIGINT before its child is done.
    child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    let out = ''
    child.stdout!.on('data', (chunk: Buffer) => { out += chunk.toString() })
    child.stderr!.on('data', (chunk: Buffer) => { out += chunk.toString() })
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)))

    const died = exited.then((code) => { throw new Error(`npm start exited with ${code}:\n${out}`) })
    const line = await Promise.race([died, waitFor(() => /^receipt\s+(\S+)\s+.*?(t=\S+)\s+(http\S+)$/m.exec(out), 'a receipt line', 90_000)])
      .catch((err: Error) => { throw new Error(`${err.message}; output so far:\n${out}`) })
    died.catch(() => {})
    const qr = parseReceiptQr(line[2]!)
    expect(qr, line[0]).not.toBeNull()
    expect(qr!.fn).toBe('9999078900001234')
    expect(out).toMatch(/MQTT broker\s+mqtt:\/\/127\.0\.0\.1:\d+/)
    // The console's URL and the demo admin's login, and the login works.
    const consoleLine = /console\s+(http:\/\/localhost:\d+)\/\s+\(sign in as (\S+) \/ (\S+)\)/.exec(out)
    expect(consoleLine, out).not.toBeNull()
    const login = await fetch(`${consoleLine![1]!.replace('localhost', '127.0.0.1')}/auth/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: consoleLine![2], password: consoleLine![3] }),
    })
    expect(login.status).toBe(200)
    expect(await login.json()).toMatchObject({ username: 'admin', role: 'admin' })

    // The CLI reaches the running process's embedded database through its wire-protocol server.
    // Twice: the server keeps one database session for every connection, so whatever one CLI run
    // leaves in it (a prepared statement) meets the next.
    for (let i = 0; i < 2; i++) {
      const { stdout } = await run('npm', ['run', '-s', 'fleet', '--', 'list'], { env, timeout: 60_000 })
      const listed = JSON.parse(stdout) as { kassas: { id: string }[]; machines: { id: string }[] }
      expect(listed.kassas.map((k) => k.id)).toEqual(['DEMO'])
      expect(listed.machines).toHaveLength(5)
    }

    process.kill(-child.pid!, 'SIGINT')
    expect(await exited).toBe(0)
    expect(out).toContain('stopped')
  })
})
