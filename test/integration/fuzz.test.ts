import { sql } from 'kysely'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BROKER_LIMIT_DEFAULTS } from '../../broker/config.js'
import { seededRandom } from '../../device-sim/random.js'
import { provisionChaosFleet } from '../../scripts/chaos/chaos-database.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { connectMachine, sale, type TestMachine } from '../support/machine-client.js'
import { freePort, killAllProcesses, signalAndWait, startGatewayProcess, waitReady, type ServiceProcess } from '../support/processes.js'
import { startBroker } from '../support/system.js'
import { waitFor } from '../support/wait.js'
import { escapeUnprintable } from '../../protocol/index.js'
import { DATABASE_REFUSES, hostile, type Hostile } from './fuzz-payloads.js'

// 10,000 hostile messages interleaved with 1,000 valid sales, sent by logged-in machines through a
// real broker to a gateway process. The broker's own 64 KiB payload cap and rate limit are raised
// here so that oversized and flooding input reaches the gateway: what is under test is that the
// gateway (protocol/decode.ts, ingest) stores each with a reason, answers what it can, keeps its
// memory bounded and never stops receipting (the broker's limits have their own tests).

const HOSTILE = 10_000
const VALID = 1_000

describe('hostile input to the gateway', () => {
  let database: TestDatabase
  let broker: Awaited<ReturnType<typeof startBroker>>
  let gateway: ServiceProcess
  let machines: TestMachine[] = []
  let creds: { id: string; secret: string }[]

  beforeAll(async () => {
    database = await createTestDatabase()
    creds = await provisionChaosFleet(database.handle, 11)
    // Bad input nothing upstream knows about: PostgreSQL refuses one row of a batch (fuzz-payloads.ts).
    await sql`create function refuse_marked() returns trigger language plpgsql as $$
      begin
        if new.items::text like ${sql.lit(`%${DATABASE_REFUSES}%`)} then raise exception 'refused by the database' using errcode = '22023'; end if;
        return new;
      end $$`.execute(database.handle.db)
    await sql`create trigger sales_refuse_marked before insert on sales for each row execute function refuse_marked()`.execute(database.handle.db)
    broker = await startBroker(database.handle.db, {
      limits: { ...BROKER_LIMIT_DEFAULTS, ratePerS: 100_000, rateBurst: 100_000, machineMaxPayload: 512 * 1024 },
    })
    const httpPort = await freePort()
    // 'error': the gateway logs a warning per rejected sale, 10,000 lines nobody reads here.
    gateway = startGatewayProcess({ databaseUrl: database.url, mqttUrl: broker.url, httpPort, password: 'test-gateway-password', env: { LOG_LEVEL: 'error' } })
    await waitReady(httpPort, 'the gateway process')
    machines = await Promise.all(creds.slice(0, 10).map((c) => connectMachine(broker.url, c)))
  }, 120_000)

  afterAll(async () => {
    await Promise.all(machines.map((m) => m.close()))
    await killAllProcesses()
    await broker?.broker.stop()
    await database?.drop()
  })

  it('stores every hostile message with a reason, answers those it can, and receipts every valid sale', async () => {
    const random = seededRandom(20261128)
    const plan: { machine: TestMachine; hostile: Hostile | null; saleId: string; payload: Buffer }[] = []
    for (let i = 0; i < HOSTILE + VALID; i++) {
      const machine = machines[i % machines.length]!
      if (i % 11 === 5) {
        const s = sale()
        plan.push({ machine, hostile: null, saleId: s.saleId, payload: Buffer.from(JSON.stringify(s)) })
      } else {
        const h = hostile(random)
        plan.push({ machine, hostile: h, saleId: h.saleId ?? '', payload: h.payload })
      }
    }
    expect(plan.filter((p) => p.hostile).length).toBe(HOSTILE)

    const rssStart = gateway.rss()!
    let rssMax = rssStart
    const sampler = setInterval(() => { rssMax = Math.max(rssMax, gateway.rss() ?? 0) }, 100)
    // Each machine sends its share in order, all machines at once (QoS 1, as machines do).
    await Promise.all(machines.map(async (m) => {
      for (const p of plan) if (p.machine === m) await m.publishRaw(`vending/${m.id}/sale`, p.payload)
    }))

    // Topic junk from a machine (another machine's topic, extra levels, a wildcard-looking name):
    // the broker closes that connection and nothing reaches the gateway.
    const rogue = mqtt.connect(broker.url, { clientId: creds[10]!.id, username: creds[10]!.id, password: creds[10]!.secret, protocolVersion: 4, reconnectPeriod: 0 })
    await new Promise<void>((resolve, reject) => { rogue.once('connect', () => resolve()); rogue.once('error', reject) })
    const closed = new Promise<void>((resolve) => rogue.once('close', () => resolve()))
    rogue.publish(`vending/${creds[0]!.id}/sale`, JSON.stringify(sale({ saleId: 'rogue-1' })), { qos: 1 })
    await closed
    rogue.end(true)

    const expectedDisplays = plan.filter((p) => p.hostile?.saleId).length
    const displayed = () => machines.reduce((n, m) => n + m.displays.length, 0)
    await waitFor(() => displayed() >= VALID + expectedDisplays, `${VALID + expectedDisplays} display messages`, 120_000)
    clearInterval(sampler)

    const db = database.handle.db
    // Unanswerable messages (no saleId) have no display to wait for: wait for their rows.
    const stored = async () => (await sql<{ n: number }>`select count(*)::int as n from rejected_messages`.execute(db)).rows[0]!.n
    await waitFor(async () => (await stored()) >= HOSTILE, `${HOSTILE} rejected messages stored`, 60_000)
    const rejected = await db.selectFrom('rejected_messages').select(['machine_id', 'sale_id', 'reason', 'payload']).execute()
    expect(rejected).toHaveLength(HOSTILE)
    expect(rejected.filter((r) => r.sale_id === 'rogue-1')).toHaveLength(0)
    const byPayload = new Map(rejected.map((r) => [`${r.machine_id}|${Buffer.from(r.payload).toString('base64')}`, r]))
    for (const p of plan) {
      if (!p.hostile) continue
      const row = byPayload.get(`${p.machine.id}|${p.payload.toString('base64')}`)
      expect(row, `${p.hostile.kind} stored as it came`).toBeDefined()
      expect(row!.reason, p.hostile.kind).toMatch(p.hostile.reason)
      // Text a device sent is stored printable (a NUL as \u0000); its bytes are in `payload`.
      expect(row!.sale_id).toBe(p.hostile.saleId === null ? null : escapeUnprintable(p.hostile.saleId))
      expect(row!.reason).not.toMatch(/[\u0000\ud800-\udfff]/)
    }

    // Every valid sale: one receipt (displays are at least once: an outbox row whose PUBACK mark
    // lags 5 s under this load is sent again, the same receipt); every readable hostile saleId:
    // rejections only.
    for (const p of plan) {
      const answers = p.machine.displaysFor(p.saleId)
      if (!p.hostile) {
        expect(answers.length, p.saleId).toBeGreaterThan(0)
        expect(new Set(answers.map((d) => JSON.stringify(d))).size, p.saleId).toBe(1)
        expect(answers[0]!.type, p.saleId).toBe('receipt')
      } else if (p.hostile.saleId) {
        expect(answers.length, p.hostile.kind).toBeGreaterThan(0)
        expect(answers.every((d) => d.type === 'rejected'), p.hostile.kind).toBe(true)
      }
    }
    const receipts = await sql<{ n: number }>`select count(*)::int as n from fiscal_documents where type = 3`.execute(db)
    expect(receipts.rows[0]!.n).toBe(VALID)

    expect(gateway.alive).toBe(true)
    const growthMb = (rssMax - rssStart) / 2 ** 20
    console.log(`fuzz: gateway RSS ${Math.round(rssStart / 2 ** 20)} → max ${Math.round(rssMax / 2 ** 20)} MiB`)
    expect(growthMb).toBeLessThan(200)
    expect(await signalAndWait(gateway, 'SIGTERM', 25_000)).toEqual({ code: 0, signal: null })
  }, 240_000)
})
