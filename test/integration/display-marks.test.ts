import mqtt from 'mqtt'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { advanceMarks } from '../../gateway/display/display-marks.repository.js'
import { createDisplayPublisher, type DisplayPublisherDeps } from '../../gateway/display/display.publisher.js'
import { unacknowledgedDisplays } from '../../gateway/display/outbox.repository.js'
import { closeShiftIfDueTx, signPendingBatch } from '../../gateway/fiscalizer/emulated.signer.js'
import { runFleetCommand } from '../../gateway/fleet/fleet.commands.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { connectMachine, sale, type TestMachine } from '../support/machine-client.js'
import { logger, provisionFleet, startBroker, TEST_KASSA, type Credentials } from '../support/system.js'
import { waitFor } from '../support/wait.js'

// Receipt displays of the emulated FN are acknowledged by a mark per FN (migration 0009,
// gateway/display/display-marks.repository.ts), not a row per display. What must hold: the mark
// moves only over runs of documents whose displays were all acknowledged, and a receipt committed
// but never published (its gateway died between commit and PUBACK) reaches the machine through
// the sweeper of another publisher, as the same message.

let database: TestDatabase
let broker: Awaited<ReturnType<typeof startBroker>>
let machines: TestMachine[] = []
const db = () => database.handle.db
const mark = async (fn: string = TEST_KASSA.fn) => (await sql<{ through_fd: number }>`select through_fd from display_marks where fn = ${fn}`.execute(db())).rows[0]!.through_fd
const nextFd = async () => (await sql<{ next_fd: number }>`select next_fd from fiscal_drives where fn = ${TEST_KASSA.fn}`.execute(db())).rows[0]!.next_fd

type PublisherHooks = Partial<Pick<DisplayPublisherDeps, 'recentReceipts' | 'onSent' | 'onResent'>>

function gatewayPublisher(resendAfterMs: number, hooks: PublisherHooks = {}) {
  const client = mqtt.connect(broker.url, { clientId: `gateway-marks-${Math.random().toString(36).slice(2)}-out`, username: 'gateway', password: 'test-gateway-password', reconnectPeriod: 0, clean: true })
  const publisher = createDisplayPublisher({ db: db(), client, topicPrefix: 'vending', logger, resendAfterMs, sweepIntervalMs: 60_000, ...hooks })
  return { client, publisher }
}

beforeAll(async () => {
  database = await createTestDatabase()
  const creds = await provisionFleet(db(), 2)
  broker = await startBroker(db())
  machines = await Promise.all(creds.map((c) => connectMachine(broker.url, c)))
})

afterAll(async () => {
  await Promise.all(machines.map((m) => m.close()))
  await broker?.broker.stop()
  await database?.drop()
})

describe('display marks', () => {
  it('a new FN starts with its mark at the last number it has', async () => {
    expect(await mark()).toBe(await nextFd() - 1)
  })

  it('moves the mark only over consecutive runs, whatever order they are acknowledged in', async () => {
    // Numbers past the FN's own, as a test of the statement alone (the foreign key is to the FN).
    const base = await mark()
    const at = async (runs: [number, number][]) => (await advanceMarks(db(), runs.map(([from, to]) => ({ fn: TEST_KASSA.fn, from: base + from, to: base + to })))).get(TEST_KASSA.fn)! - base
    expect(await at([[3, 5]])).toBe(0) // 1..2 not acknowledged yet
    expect(await at([[1, 2]])).toBe(2)
    expect(await at([[3, 5]])).toBe(5)
    expect(await at([[2, 4]])).toBe(5) // already passed: nothing moves back
    expect(await at([[6, 6]])).toBe(6)
    await sql`update display_marks set through_fd = ${base} where fn = ${TEST_KASSA.fn}`.execute(db())
  })

  it('a receipt committed and never published reaches the machine through another publisher\'s sweep, once, as committed', async () => {
    const [m] = machines
    const sales = [sale(), sale(), sale()]
    for (const s of sales) await m!.publishSale(s) // PUBACK: stored by the broker
    // A gateway that signs and dies before publishing: the batch is committed, nothing is sent.
    const batch = await signPendingBatch(db(), TEST_KASSA.id, { batchMax: 50, publicUrl: 'http://receipts.test', now: () => new Date() })
    expect(batch.signed).toBe(3)
    expect(batch.range).toMatchObject({ fn: TEST_KASSA.fn, left: 3 })
    expect((await unacknowledgedDisplays(db())).rows[0]!.n).toBe(3)
    expect(await mark()).toBe(batch.range!.from - 1)

    // Too young to resend: a sweep takes nothing.
    const young = gatewayPublisher(60_000)
    await waitFor(() => young.client.connected, 'the publisher connected')
    expect(await young.publisher.sweepOnce()).toBe(0)
    await young.client.endAsync()

    const resent: number[] = []
    const { client, publisher } = gatewayPublisher(0, { onResent: (n) => resent.push(n) })
    await waitFor(() => client.connected, 'the publisher connected')
    expect(await publisher.sweepOnce()).toBe(3)
    expect(resent).toEqual([3]) // gateway_displays_resent_total
    await waitFor(() => sales.every((s) => m!.displaysFor(s.saleId).length === 1), 'each receipt on the display')
    // A second sweep right away finds the FN claimed (backoff) or acknowledged: nothing twice.
    expect(await publisher.sweepOnce()).toBe(0)
    expect(resent).toEqual([3])
    await publisher.stop()
    await client.endAsync()

    expect(await mark()).toBe(batch.range!.to)
    expect((await unacknowledgedDisplays(db())).rows[0]!.n).toBe(0)
    const shown = batch.displays.map((d) => d.payload)
    expect(sales.map((s) => m!.displaysFor(s.saleId)[0])).toEqual(shown)
    for (const d of shown) expect(d.type === 'receipt' && d.fiscal.fn).toBe(TEST_KASSA.fn)
    expect(m!.displays).toHaveLength(3)
  })

  it('answers a repeat with the very bytes it published, and remembers nothing when told to keep no receipts', async () => {
    const [m] = machines
    const texts: string[] = []
    const onMessage = (_topic: string, payload: Buffer) => texts.push(payload.toString())
    m!.client.on('message', onMessage)
    const s = sale()
    await m!.publishSale(s)
    const batch = await signPendingBatch(db(), TEST_KASSA.id, { batchMax: 50, publicUrl: 'http://receipts.test', now: () => new Date() })
    expect(batch.signed).toBe(1)

    // As a gateway that stores sales itself: the receipt is kept, as text.
    const remembering = gatewayPublisher(60_000)
    await waitFor(() => remembering.client.connected, 'the publisher connected')
    remembering.publisher.publishCommitted(batch.displays, batch.range)
    await waitFor(() => texts.length === 1, 'the receipt on the display')
    expect(remembering.publisher.answerRepeat(m!.id, s.saleId)).toBe(true)
    await waitFor(() => texts.length === 2, 'the repeat answered')
    expect(texts[1]).toBe(texts[0])
    expect(JSON.parse(texts[0]!)).toEqual(batch.displays[0]!.payload)
    expect(remembering.publisher.answerRepeat(m!.id, 'never-sold')).toBe(false)
    await remembering.publisher.stop()
    await remembering.client.endAsync()

    // As a gateway behind brokers that store sales (they answer repeats from the database).
    const forgetting = gatewayPublisher(60_000, { recentReceipts: 0 })
    await waitFor(() => forgetting.client.connected, 'the publisher connected')
    const { range: _acknowledged, ...again } = batch.displays[0]!
    forgetting.publisher.publish({ ...again, id: -1 })
    await waitFor(() => texts.length === 3, 'the receipt published again')
    expect(forgetting.publisher.answerRepeat(m!.id, s.saleId)).toBe(false)
    await forgetting.publisher.stop()
    await forgetting.client.endAsync()
    m!.client.off('message', onMessage)
    expect(texts).toHaveLength(3)
    expect(m!.displaysFor(s.saleId)).toHaveLength(3)
  })

  it('a document with no display (a shift closed by the timer) is passed, and receipts after it are acknowledged by their batch', async () => {
    const [, m] = machines
    const closed = await closeShiftIfDueTx(db(), TEST_KASSA.id, new Date(Date.now() + 25 * 3600_000))
    expect(closed).toBe(1)
    const closeFd = await nextFd() - 1
    expect(await mark()).toBe(closeFd - 1)
    // Signed on the test's clock, a day ahead; the sweeps below run on the database's, today.
    await sql`update fiscal_documents set signed_at = now() - interval '1 minute' where fn = ${TEST_KASSA.fn} and fd = ${closeFd}`.execute(db())

    // Resent after 30 s: the report is a minute old, the receipt below is not.
    const { client, publisher } = gatewayPublisher(30_000)
    await waitFor(() => client.connected, 'the publisher connected')
    const s = sale()
    await m!.publishSale(s)
    const batch = await signPendingBatch(db(), TEST_KASSA.id, { batchMax: 50, publicUrl: 'http://receipts.test', now: () => new Date() })
    expect(batch.range).toMatchObject({ from: closeFd + 1, left: 1 }) // a new shift opened, then the receipt
    publisher.publishCommitted(batch.displays, batch.range)
    await waitFor(() => m!.displaysFor(s.saleId).length === 1, 'the receipt on the display')
    // Acknowledged, but the mark cannot pass the closing report until a sweep does.
    await publisher.stop()
    expect(await mark()).toBe(closeFd - 1)
    expect(await publisher.sweepOnce()).toBe(0) // nothing to publish: the report has no display
    await waitFor(async () => (await mark()) === batch.range!.to, 'the mark over the report and the batch after it', 5000)
    await publisher.stop()
    await client.endAsync()
    expect(m!.displaysFor(s.saleId)).toHaveLength(1)
    expect((await unacknowledgedDisplays(db())).rows[0]!.n).toBe(0)
  })

  it('moves each FN\'s mark over a batch acknowledged while the marks of other FNs are being moved', async () => {
    // A second kassa, so that two FNs have marks to move.
    const other = { ...TEST_KASSA, id: 'K2', fn: '9999078900005555' }
    await runFleetCommand(db(), 'add-kassa', other)
    const { output } = await runFleetCommand(db(), 'add-machine', { id: 'K2-1', kassa: other.id, address: 'г. Москва', place: 'Холл' })
    const m2 = await connectMachine(broker.url, output as Credentials)
    machines.push(m2)
    const [m1] = machines
    const s1 = sale(), s2 = sale()
    await m1!.publishSale(s1)
    await m2.publishSale(s2)
    const sign = (kassaId: string) => signPendingBatch(db(), kassaId, { batchMax: 50, publicUrl: 'http://receipts.test', now: () => new Date() })
    const [a, b] = [await sign(TEST_KASSA.id), await sign(other.id)]
    expect([a.signed, b.signed]).toEqual([1, 1])
    const sent: string[] = []
    const { client, publisher } = gatewayPublisher(60_000, { onSent: (e) => sent.push(e.saleId) })
    await waitFor(() => client.connected, 'the publisher connected')

    // The first FN's mark is held by another transaction, so the statement moving it waits; the
    // second FN's batch is acknowledged meanwhile.
    await db().transaction().execute(async (tx) => {
      await sql`select 1 from display_marks where fn = ${TEST_KASSA.fn} for update`.execute(tx)
      publisher.publishCommitted(a.displays, a.range)
      await waitFor(async () => (await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock' and query like '%display_marks%'`.execute(db())).rows[0]!.n === 1, 'the marks statement waiting for the lock')
      publisher.publishCommitted(b.displays, b.range)
      await waitFor(() => sent.includes(s2.saleId), 'the second batch acknowledged by the broker')
    })
    await waitFor(async () => (await mark()) === a.range!.to && (await mark(other.fn)) === b.range!.to,
      'both marks over their batches', 5000)
    await publisher.stop()
    await client.endAsync()
    expect(m1!.displaysFor(s1.saleId)).toHaveLength(1)
    expect(m2.displaysFor(s2.saleId)).toHaveLength(1)
  })
})
