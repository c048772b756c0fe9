import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { waitFor } from '../support/wait.js'

const run = promisify(execFile)

// The README's walkthrough, run as written in a second terminal after `npm start`, on the embedded
// database (what a newcomer has). A directory of its own holds links to the project, so the
// default DATA_DIR and the files the walkthrough writes (machines.csv …) stay out of the checkout.
const ENTRIES = ['package.json', 'package-lock.json', '.npmrc', 'tsconfig.json', 'node_modules', 'protocol', 'broker', 'gateway', 'device-sim', 'scripts']

function walkthrough(): string {
  const readme = readFileSync('README.md', 'utf8')
  const block = /<!-- walkthrough:[^\n]*-->\n```sh\n([\s\S]*?)\n```/.exec(readme)
  if (!block) throw new Error('README.md has no walkthrough block')
  return block[1]!
}

describe('the README walkthrough', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vt-readme-'))
  for (const entry of ENTRIES) symlinkSync(resolve(entry), join(dir, entry))
  // No DATABASE_URL, DATA_DIR or MQTT_URL: a newcomer's shell. Ports 0: 1883 and 8080 may be taken here.
  const env = { ...process.env, DATABASE_URL: '', DATA_DIR: '', MQTT_URL: '', HTTP_PORT: '0', MQTT_PORT: '0', LOG_LEVEL: 'warn' }
  let start: ChildProcess | null = null

  afterAll(() => {
    if (start?.pid && start.exitCode === null) process.kill(-start.pid, 'SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })

  it('runs as written after npm start: provisioning, an import of 50 machines, a simulated fleet, verify', { timeout: 300_000 }, async () => {
    start = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    let out = ''
    start.stdout!.on('data', (chunk: Buffer) => { out += chunk.toString() })
    start.stderr!.on('data', (chunk: Buffer) => { out += chunk.toString() })
    const exited = new Promise<number | null>((resolve) => start!.once('exit', (code) => resolve(code)))
    await waitFor(() => /^receipt\s/m.test(out) || start!.exitCode !== null, 'npm start to sell', 120_000)
    expect(out).toMatch(/^receipt\s/m)

    const { stdout, stderr } = await run('sh', ['-ec', walkthrough()], { cwd: dir, env, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 })
      .catch((err: { stdout: string; stderr: string; message: string }) => { throw new Error(`${err.message}\n${err.stdout}\n${err.stderr}`) })
    expect(stderr).toMatch(/device-sim: broker mqtt:\/\/127\.0\.0\.1:\d+ \(the running npm start found in \.\/data\)/)
    const lines = stdout.trim().split('\n')
    const report = JSON.parse(lines.find((l) => l.startsWith('{"machines":50'))!) as { connected: number; sent: number; receipted: number; unanswered: number; duplicates: number }
    expect(report).toMatchObject({ connected: 50, unanswered: 0, duplicates: 0 })
    expect(report.receipted).toBe(report.sent)
    expect(report.sent).toBeGreaterThan(0)
    expect(lines).toContain('56') // jq: 5 demo machines, VM-101 and the 50 imported

    const listed = JSON.parse((await run('npm', ['run', 'fleet', '--', 'list'], { cwd: dir, env, timeout: 60_000 })).stdout) as {
      kassas: { id: string; fn: string | null }[]; machines: { id: string; kassa_id: string; disabled: boolean }[]
    }
    expect(listed.kassas.map((k) => [k.id, k.fn])).toEqual([['DEMO', '9999078900001234'], ['K1', '9999078900006666'], ['K2', null]])
    expect(listed.machines.find((m) => m.id === 'VM-101')).toMatchObject({ kassa_id: 'K2', disabled: false })

    process.kill(-start.pid!, 'SIGINT')
    expect(await exited).toBe(0)
  })
})
