import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/database.js'

// `npm run broker` as a process: what an operator sees on a bad environment and on a clean stop.

const MAIN = new URL('../../scripts/broker.ts', import.meta.url).pathname
let database: TestDatabase
const children: ChildProcess[] = []

function runBroker(env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  return child
}

async function exitOf(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const [code] = (await once(child, 'exit')) as [number | null]
  return { code, stderr }
}

beforeAll(async () => {
  database = await createTestDatabase()
})

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await database?.drop()
})

describe('broker main', () => {
  it('stops with status 2 and names every bad variable', async () => {
    const { code, stderr } = await exitOf(runBroker({ MQTT_PORT: 'not-a-port', MQTT_TLS_PORT: '8883' }))
    expect(code).toBe(2)
    for (const name of ['MQTT_PORT', 'MQTT_TLS_CERT', 'MQTT_TLS_KEY', 'DATABASE_URL']) expect(stderr).toContain(name)
  })

  it('serves logins from the database and stops cleanly on SIGTERM', async () => {
    const child = runBroker({ DATABASE_URL: database.url, MQTT_PORT: '0', MQTT_HOST: '127.0.0.1', GATEWAY_MQTT_PASSWORD: 'main-test' })
    const exited = exitOf(child)
    const lines = createInterface({ input: child.stdout! })
    let port = 0
    for await (const line of lines) {
      const entry = JSON.parse(line) as { msg: string; port?: number }
      if (entry.msg === 'broker listening') {
        port = entry.port ?? 0
        break
      }
    }
    expect(port).toBeGreaterThan(0)
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      clientId: 'gateway-main-test', username: 'gateway', password: 'main-test', reconnectPeriod: 0,
    })
    client.on('error', () => {})
    const clientClosed = new Promise<void>((resolve) => client.once('close', () => resolve()))

    child.kill('SIGTERM')
    await clientClosed // the stop closes every client
    const { code } = await exited
    expect(code).toBe(0)
    await client.endAsync(true)
  })
})
