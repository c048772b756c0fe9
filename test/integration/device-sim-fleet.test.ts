import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Aedes } from 'aedes'
import mqtt, { type MqttClient } from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { parseReceiptQr, type Status } from '../../protocol/index.js'
import { numberedMachines } from '../../device-sim/credentials.js'
import { runFleet, startFleet, type FleetOptions } from '../../device-sim/fleet.js'
import { SimMachine } from '../../device-sim/machine.client.js'
import { createEchoResponder, ECHO_FN, type EchoResponderOptions } from '../../device-sim/responder.js'
import { waitFor } from '../support/wait.js'

// Every resource a test opens is registered here and closed after it, newest first.
const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

/** A broker on port 0 (or a given port, to restart one); closed after the test unless closed before. */
async function startBroker(options: { password?: string; port?: number } = {}): Promise<{ url: string; close(): Promise<void> }> {
  const broker = await Aedes.createBroker()
  if (options.password !== undefined) {
    broker.authenticate = (_client, _username, password, done) => done(null, password?.toString() === options.password)
  }
  const server = createServer({ noDelay: true }, broker.handle)
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve))
  let closed: Promise<void> | undefined
  const close = () =>
    (closed ??= (async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()))
      await new Promise<void>((resolve) => server.close(() => resolve()))
    })())
  cleanups.push(close)
  return { url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`, close }
}

async function startResponder(options: EchoResponderOptions) {
  const responder = await createEchoResponder(options)
  cleanups.push(() => responder.close())
  return responder
}

async function connectObserver(url: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { clientId: `observer-${process.pid}-${cleanups.length}` })
  cleanups.push(() => client.endAsync())
  return client
}

/** The next message on `topic` that satisfies `accept`, or a failure after `timeoutMs`. */
function nextMessage(client: MqttClient, topic: string, accept: (text: string, retain: boolean) => boolean, timeoutMs = 5_000) {
  return new Promise<{ text: string; retain: boolean }>((resolve, reject) => {
    const onMessage = (t: string, payload: Buffer, packet: { retain: boolean }) => {
      const text = payload.toString()
      if (t !== topic || !accept(text, packet.retain)) return
      finish()
      resolve({ text, retain: packet.retain })
    }
    const timer = setTimeout(() => {
      finish()
      reject(new Error(`no matching message on ${topic} within ${timeoutMs} ms`))
    }, timeoutMs)
    const finish = () => {
      clearTimeout(timer)
      client.off('message', onMessage)
    }
    client.on('message', onMessage)
  })
}

/** Fails with `what` unless `promise` settles within `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)))
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}

const fleetDefaults = (url: string): Omit<FleetOptions, 'machines' | 'rate' | 'durationS'> => ({
  url,
  rampUpPerSecond: 1_000,
  drainTimeoutS: 10,
  telemetryIntervalS: 0,
  seed: 42,
})

describe('device-sim fleet against a real broker', () => {
  it('gets exactly one receipt for every sale of 20 machines at 200 sales/s', async () => {
    const { url } = await startBroker()
    const responder = await startResponder({ url })
    const qrs: string[] = []
    const report = await runFleet({
      ...fleetDefaults(url),
      machines: numberedMachines('VM-', 20),
      rate: 200,
      durationS: 2,
      onReceipt: (_id, display) => qrs.push(display.qr),
    })
    expect(report).toMatchObject({ machines: 20, connected: 20, unanswered: 0, duplicates: 0, conflicts: 0, rejected: 0, invalid: 0, unknown: 0 })
    expect(report.sent).toBe(400) // open loop: one sale every 5 ms for 2 s
    expect(report.receipted).toBe(report.sent)
    expect(responder.stats().invalid).toBe(0) // every sale the machines made was a valid SaleEvent
    expect(report.latencyMs.p50).toBeGreaterThan(0)
    expect(report.latencyMs.p99).toBeLessThanOrEqual(report.latencyMs.max)
    expect(qrs).toHaveLength(report.sent)
    expect(parseReceiptQr(qrs[0]!)).toMatchObject({ fn: ECHO_FN, n: 1 })
  })

  it('republishes a sale whose first copy was lost until it is receipted', async () => {
    const { url } = await startBroker()
    const responder = await startResponder({ url, shouldAnswer: (_id, _saleId, copy) => copy >= 2 })
    const report = await runFleet({
      ...fleetDefaults(url),
      machines: numberedMachines('VM-', 10),
      rate: 100,
      durationS: 1,
      retry: { initialMs: 100, maxMs: 400, jitter: 0.2 },
    })
    expect(report.sent).toBe(100)
    expect(report).toMatchObject({ receipted: report.sent, unanswered: 0, duplicates: 0, conflicts: 0 })
    expect(report.republished).toBeGreaterThanOrEqual(report.sent)
    expect(responder.stats().dropped).toBe(report.sent)
    expect(report.latencyMs.p50).toBeGreaterThanOrEqual(80) // nothing is answered before the first retry
  })

  it("publishes the machine's will, offline and retained, when its socket dies", async () => {
    const { url } = await startBroker()
    const observer = await connectObserver(url)
    const topic = 'vending/VM-WILL/status'
    await observer.subscribeAsync(topic, { qos: 1 })
    const isState = (state: Status['state']) => (text: string) => (JSON.parse(text) as Status).state === state

    const machine = new SimMachine({ url, id: 'VM-WILL', secret: '' })
    cleanups.push(() => machine.stop())
    const online = nextMessage(observer, topic, isState('online'))
    await machine.start()
    await online

    const offline = nextMessage(observer, topic, isState('offline'))
    await machine.kill()
    expect(JSON.parse((await offline).text)).toMatchObject({ v: 1, state: 'offline' })

    // Retained: a dashboard that subscribes later still learns the machine is offline.
    const late = await connectObserver(url)
    const retained = nextMessage(late, topic, () => true)
    await late.subscribeAsync(topic, { qos: 1 })
    expect(await retained).toMatchObject({ retain: true })
    expect(JSON.parse((await retained).text)).toMatchObject({ state: 'offline' })
  })

  it('reports its link: attempts, logins, a loss after being up, the refused attempts while the broker is down', async () => {
    // What the bench's storm step draws its timeline from (README.md#reconnect-storm).
    const first = await startBroker()
    const port = Number(new URL(first.url).port)
    const events: string[] = []
    const machine = new SimMachine({ url: first.url, id: 'VM-LINK', secret: '', reconnectPeriodMs: 100, onLink: (e) => events.push(e.kind === 'down' ? `down:${e.wasUp}` : e.kind === 'error' ? `error:${e.message.split(' ')[1]}` : e.kind) })
    cleanups.push(() => machine.stop())
    await machine.start()
    expect(events).toEqual(['attempt', 'up'])
    await first.close()
    await waitFor(() => events.filter((e) => e === 'attempt').length >= 3, 'three attempts')
    // Lost once after being up; each attempt at the closed port refused.
    expect(events.slice(2, 3)).toEqual(['down:true'])
    expect(events.filter((e) => e === 'down:true')).toHaveLength(1)
    expect(events).toContain('error:ECONNREFUSED')
    await startBroker({ port })
    await waitFor(() => machine.connected, 'the machine back')
    expect(events.at(-1)).toBe('up')
    expect(events.filter((e) => e === 'up')).toHaveLength(2)
  })

  it('keeps unanswered sales in the state file and sends them again after a restart', async () => {
    const { url } = await startBroker()
    const dir = await mkdtemp(join(tmpdir(), 'device-sim-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const stateFile = join(dir, 'state.json')
    const machines = numberedMachines('VM-', 5)

    // No responder: nothing is answered, so every sale is still pending when the run ends.
    const first = await runFleet({ ...fleetDefaults(url), machines, rate: 50, durationS: 0.4, drainTimeoutS: 0, stateFile })
    expect(first.sent).toBe(20)
    expect(first.unanswered).toBe(20)
    const stored = JSON.parse(await readFile(stateFile, 'utf8')) as { machines: Record<string, unknown[]> }
    expect(Object.values(stored.machines).flat()).toHaveLength(20)

    await startResponder({ url })
    const second = await runFleet({ ...fleetDefaults(url), machines, rate: 0, durationS: 0, stateFile })
    expect(second).toMatchObject({ sent: 0, restored: 20, receipted: 20, unanswered: 0, duplicates: 0 })
    const after = JSON.parse(await readFile(stateFile, 'utf8')) as { machines: Record<string, unknown[]> }
    expect(after.machines).toEqual({})
  })

  it('leaves the stored sales of machines outside the run in the state file', async () => {
    const { url } = await startBroker()
    const dir = await mkdtemp(join(tmpdir(), 'device-sim-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const stateFile = join(dir, 'state.json')
    const machines = numberedMachines('VM-', 4)
    await runFleet({ ...fleetDefaults(url), machines, rate: 40, durationS: 0.5, drainTimeoutS: 0, stateFile })
    const before = JSON.parse(await readFile(stateFile, 'utf8')) as { machines: Record<string, unknown[]> }

    await startResponder({ url })
    const part = await runFleet({ ...fleetDefaults(url), machines: machines.slice(0, 2), rate: 0, durationS: 0, stateFile })
    const after = JSON.parse(await readFile(stateFile, 'utf8')) as { machines: Record<string, unknown[]> }
    expect(part.restored).toBe((before.machines['VM-001']?.length ?? 0) + (before.machines['VM-002']?.length ?? 0))
    expect(part.unanswered).toBe(0)
    expect(Object.keys(after.machines).sort()).toEqual(Object.keys(before.machines).filter((id) => id > 'VM-002').sort())
  })

  it('keeps selling through a broker restart and gets every sale receipted after it', async () => {
    const first = await startBroker()
    const port = Number(new URL(first.url).port)
    const firstResponder = await startResponder({ url: first.url })
    let receipts = 0
    let onReceipts: (() => void) | null = null
    const receiptsReach = (n: number) =>
      new Promise<void>((resolve) => {
        onReceipts = () => receipts >= n && resolve()
      })
    const fleet = startFleet({
      ...fleetDefaults(first.url),
      machines: numberedMachines('VM-', 5),
      rate: 100,
      durationS: Infinity,
      retry: { initialMs: 300, maxMs: 1_000 },
      reconnectPeriodMs: 50,
      onReceipt: () => {
        receipts += 1
        onReceipts?.()
      },
    })
    await within(receiptsReach(20), 10_000, '20 receipts before the restart')
    await firstResponder.close()
    await first.close() // every machine loses its connection; sales go on being made and kept
    const second = await startBroker({ port })
    await startResponder({ url: second.url })
    await within(receiptsReach(receipts + 50), 10_000, '50 receipts after the restart')
    const report = await fleet.stop()
    expect(report).toMatchObject({ connected: 5, unanswered: 0, duplicates: 0, conflicts: 0 })
    expect(report.receipted).toBe(report.sent)
  })

  it('runs until stopped, then drains and reports', async () => {
    const { url } = await startBroker()
    await startResponder({ url })
    let receipts = 0
    let stopped!: () => void
    const enough = new Promise<void>((resolve) => (stopped = resolve))
    const fleet = startFleet({
      ...fleetDefaults(url),
      machines: numberedMachines('VM-', 3),
      rate: 100,
      durationS: Infinity,
      onReceipt: () => {
        if (++receipts === 30) stopped()
      },
    })
    await within(enough, 10_000, '30 receipts')
    const report = await fleet.stop()
    expect(report.sent).toBeGreaterThanOrEqual(30)
    expect(report).toMatchObject({ receipted: report.sent, unanswered: 0 })
    expect(fleet.snapshot().phase).toBe('done')
  })

  it('fails with the broker\'s reason when no machine may log in', async () => {
    const { url } = await startBroker({ password: 'right' })
    await expect(
      runFleet({ ...fleetDefaults(url), machines: [{ id: 'VM-001', secret: 'wrong' }], rate: 10, durationS: 1 }),
    ).rejects.toThrow(/no machine could connect .*Not authorized/)
  })
})
