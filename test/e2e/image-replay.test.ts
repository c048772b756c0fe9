import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { freePort } from '../support/processes.js'
import { waitFor } from '../support/wait.js'

const run = promisify(execFile)

// No Docker engine here, so the image's steps are replayed: the files the Dockerfile copies, its
// `RUN npm ci --omit=dev`, its environment, then the broker and the gateway started the way
// docker-compose.yml starts them, and their health checks run as compose would run them.
const dockerfile = readFileSync('Dockerfile', 'utf8')
const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as {
  services: Record<string, { command: string[]; healthcheck: { test: string[] } }>
}

function imageSteps() {
  const copies = [...dockerfile.matchAll(/^COPY (.+)$/gm)].flatMap((m) => m[1]!.split(/\s+/).slice(0, -1))
  const install = /^RUN (npm ci .+)$/m.exec(dockerfile)![1]!.split(/\s+/)
  const env = Object.fromEntries([...dockerfile.matchAll(/^ENV (\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]))
  return { copies, install, env }
}

describe('the Docker image, replayed without Docker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vt-image-'))
  const children: ChildProcess[] = []
  let database: TestDatabase
  beforeAll(async () => {
    database = await createTestDatabase()
  })
  afterAll(async () => {
    for (const child of children) if (child.pid && child.exitCode === null) process.kill(-child.pid, 'SIGKILL')
    await database.drop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('installs production dependencies only, then runs the broker, the gateway, a fleet command and the sim profile', { timeout: 300_000 }, async () => {
    const { copies, install, env: imageEnv } = imageSteps()
    expect(imageEnv.NODE_ENV).toBe('production')
    for (const path of copies) cpSync(path, join(dir, path), { recursive: true })
    await run(install[0]!, install.slice(1), { cwd: dir, timeout: 240_000 })
    const installed = (name: string) => run(process.execPath, ['-e', `require.resolve('${name}/package.json')`], { cwd: dir }).then(() => true, () => false)
    expect(await installed('tsx')).toBe(true)
    expect(await installed('vitest')).toBe(false) // a dev dependency: not in the image

    const mqttPort = await freePort()
    const httpPort = await freePort()
    const env = {
      ...process.env, ...imageEnv, DATABASE_URL: database.url, GATEWAY_MQTT_PASSWORD: 'image-test-gateway-password',
      OPERATOR_TOKEN: 'image-test-operator-token', METRICS_TOKEN: 'image-test-metrics-token', MACHINE_SECRET_KEY: 'image-test-machine-secret-key-of-32-bytes+', MQTT_PORT: String(mqttPort), MQTT_URL: `mqtt://127.0.0.1:${mqttPort}`,
      HTTP_PORT: String(httpPort), MQTT_WS_PORT: '', DATA_DIR: '', LOG_LEVEL: 'warn',
    }
    // Paths of the shared /fleet volume moved into this run's directory.
    const commandOf = (service: string) => compose.services[service]!.command.map((a) => a.replace(/^\/fleet\//, `${dir}/`))
    const start = (service: string) => {
      const [cmd, ...args] = commandOf(service)
      const child = spawn(cmd!, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
      let out = ''
      child.stdout!.on('data', (c: Buffer) => { out += c.toString() })
      child.stderr!.on('data', (c: Buffer) => { out += c.toString() })
      children.push(child)
      return { child, output: () => out }
    }
    // The compose health checks, pointed at this run's ports.
    const healthy = (service: string) => {
      const [kind, ...test] = compose.services[service]!.healthcheck.test
      expect(kind).toBe('CMD')
      const argv = test.map((a) => a.replace('8080', String(httpPort)).replace('1883', String(mqttPort)))
      return run(argv[0]!, argv.slice(1), { cwd: dir, env, timeout: 10_000 }).then(() => true, () => false)
    }

    const broker = start('broker')
    await waitFor(() => healthy('broker'), `the broker to accept connections:\n${broker.output()}`, 60_000)
    expect(await new Promise((resolve) => connect(mqttPort, '127.0.0.1').on('connect', function (this: ReturnType<typeof connect>) { this.destroy(); resolve(true) }).on('error', () => resolve(false)))).toBe(true)
    const gateway = start('gateway')
    await waitFor(() => healthy('gateway'), `the gateway to be ready:\n${gateway.output()}`, 90_000)

    const { stdout } = await run('npm', ['run', 'fleet', '--', 'list'], { cwd: dir, env, timeout: 60_000 })
    expect(JSON.parse(stdout)).toEqual({ kassas: [], machines: [] })

    // The sim profile: the one-shot provisioning, then the fleet on its credentials (for seconds, not forever).
    const [provision, ...provisionArgs] = commandOf('provision')
    await run(provision!, provisionArgs, { cwd: dir, env, timeout: 60_000 })
    const simArgs = commandOf('sim').map((a, i, all) => (all[i - 1] === '--duration' ? '4' : a))
    const sim = await run(simArgs[0]!, simArgs.slice(1), { cwd: dir, env, timeout: 120_000 })
    const report = JSON.parse(sim.stdout) as { machines: number; sent: number; receipted: number; unanswered: number }
    expect(report).toMatchObject({ machines: 20, unanswered: 0 })
    expect(report.receipted).toBe(report.sent)
    expect(report.sent).toBeGreaterThan(0)

    // A container stop: SIGTERM to the group. npm itself dies of the signal; the part exits 0 under it.
    for (const { child } of [gateway, broker]) {
      const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(code === 0 ? 'exit 0' : String(signal))))
      process.kill(-child.pid!, 'SIGTERM')
      expect(['exit 0', 'SIGTERM']).toContain(await exited)
    }
  })
})
