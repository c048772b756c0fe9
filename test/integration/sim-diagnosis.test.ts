import { execFile } from 'node:child_process'
import { createServer, type Server } from 'node:net'
import { promisify } from 'node:util'
import { Aedes } from 'aedes'
import { afterEach, describe, expect, it } from 'vitest'

const run = promisify(execFile)

// `npm run sim` against brokers that are not the gateway's: it must say which broker it reached
// and why nothing answered, not just "lost 400".
async function startAedes(options: { refuseAll?: boolean } = {}): Promise<{ url: string; close(): Promise<void> }> {
  const aedes = new Aedes()
  await aedes.listen()
  if (options.refuseAll) {
    aedes.authenticate = (_client, _user, _password, done) => done(Object.assign(new Error('not authorized'), { returnCode: 5 }) as never, false)
  }
  const server: Server = createServer((socket) => aedes.handle(socket))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    close: async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()))
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

async function sim(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  return run('npm', ['run', 'sim', '--', ...args], { env: { ...process.env, MQTT_URL: '' }, timeout: 60_000 })
    .then(({ stdout, stderr }) => ({ code: 0, stdout, stderr }), (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }))
}

describe('npm run sim against the wrong broker', () => {
  let broker: { url: string; close(): Promise<void> } | null = null
  afterEach(async () => {
    await broker?.close()
    broker = null
  })

  it('says that a broker accepting anonymous logins let the machines in but no gateway answered', { timeout: 60_000 }, async () => {
    broker = await startAedes()
    const r = await sim(['--url', broker.url, '--machines', '3', '--rate', '5', '--duration', '2', '--drain', '1', '--telemetry', '0'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`device-sim: broker ${broker.url} (given by --url)`)
    expect(r.stderr).toMatch(new RegExp(`connected to broker ${broker.url} \\(given by --url\\), but no display message came back within 3 s for \\d+ sales: no gateway answers on this broker`))
    expect(r.stderr).toContain("It let in machines without secrets, so it is not this project's broker")
    const report = JSON.parse(r.stdout) as { connected: number; receipted: number; unanswered: number; sent: number }
    expect(report).toMatchObject({ connected: 3, receipted: 0 })
    expect(report.unanswered).toBe(report.sent)
  })

  it('reads CONNACK 5 as bad credentials and says how to get machines provisioned', { timeout: 60_000 }, async () => {
    broker = await startAedes({ refuseAll: true })
    const r = await sim(['--url', broker.url, '--machines', '2', '--duration', '1', '--drain', '0'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`broker ${broker.url} (given by --url) refused the machines' logins (CONNACK 5, not authorized)`)
    expect(r.stderr).toContain('npm run fleet -- import machines.csv')
  })

  it('says nothing listens, and where the address came from, when the connection is refused', { timeout: 60_000 }, async () => {
    broker = await startAedes()
    const url = broker.url
    await broker.close()
    broker = null
    const r = await run('npm', ['run', 'sim', '--', '--machines', '1', '--duration', '1', '--drain', '0'], { env: { ...process.env, MQTT_URL: url }, timeout: 60_000 })
      .then(() => null, (err: { code: number; stderr: string }) => err)
    expect(r?.code).toBe(1)
    expect(r?.stderr).toContain(`nothing listens at ${url} (connect ECONNREFUSED ${url.slice('mqtt://'.length)}; from MQTT_URL)`)
  })
})
