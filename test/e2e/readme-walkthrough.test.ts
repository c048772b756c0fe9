import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { createTestDatabase } from '../support/database.js'
import { freePort } from '../support/processes.js'
import { waitFor } from '../support/wait.js'

const run = promisify(execFile)

// The README's walkthrough, run as written in a second terminal after `npm start`, on the embedded
// database (what a newcomer has). A directory of its own holds links to the project, so the
// default DATA_DIR and the files the walkthrough writes (machines.csv …) stay out of the checkout.
const ENTRIES = ['package.json', 'package-lock.json', '.npmrc', 'tsconfig.json', 'node_modules', 'protocol', 'broker', 'gateway', 'device-sim', 'scripts']

function readmeBlock(marker: string): string {
  const readme = readFileSync('README.md', 'utf8')
  const block = new RegExp(`<!-- ${marker}:[^\\n]*-->\\n\`\`\`sh\\n([\\s\\S]*?)\\n\`\`\``).exec(readme)
  if (!block) throw new Error(`README.md has no ${marker} block`)
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

    const { stdout, stderr } = await run('sh', ['-ec', readmeBlock('walkthrough')], { cwd: dir, env, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 })
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

  it('runs the separate processes on PostgreSQL, on a scratch database and free ports', { timeout: 240_000 }, async () => {
    const database = await createTestDatabase()
    const mqttPort = await freePort()
    // The block as written but for what must differ on a shared machine: the database, the ports, a 5 s run.
    const block = readmeBlock('postgres walkthrough').split('\n').filter((l) => !l.startsWith('createdb '))
      .map((l) => l.replace(/^export DATABASE_URL=\S+/, `export DATABASE_URL=${database.url}`).replaceAll('1884', String(mqttPort)).replace('--duration 60', '--duration 5'))
      .join('\n')
    expect(block).toContain('npm run broker &')
    const shell = spawn('sh', ['-ec', block], { cwd: dir, env: { ...env, HTTP_PORT: String(await freePort()) }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    let stdout = ''
    let stderr = ''
    shell.stdout!.on('data', (c: Buffer) => { stdout += c.toString() })
    shell.stderr!.on('data', (c: Buffer) => { stderr += c.toString() })
    try {
      const code = await new Promise<number | null>((resolve) => shell.once('exit', resolve))
      expect(code, stderr).toBe(0)
      const report = JSON.parse(stdout.trim().split('\n').find((l) => l.startsWith('{"machines":50'))!) as { sent: number; receipted: number; unanswered: number }
      expect(report.unanswered).toBe(0)
      expect(report.receipted).toBe(report.sent)
      expect(report.sent).toBeGreaterThan(0)
    } finally {
      // The broker and the gateway the block left in the background.
      try { process.kill(-shell.pid!, 'SIGTERM') } catch { /* already gone */ }
      await waitFor(() => { try { process.kill(-shell.pid!, 0); return false } catch { return true } }, 'the background processes to stop', 30_000)
        .catch(() => process.kill(-shell.pid!, 'SIGKILL'))
      await database.drop()
    }
  })
})
