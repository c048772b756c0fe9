import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signPendingBatch } from '../../gateway/fiscalizer/emulated.signer.js'
import { createSaleConsumer } from '../../gateway/ingest/sale.consumer.js'
import type { DisplayMessage, SaleEvent } from '../../protocol/index.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { sale } from '../support/machine-client.js'
import { provisionFleet, TEST_KASSA, type Credentials } from '../support/system.js'
import { waitFor } from '../support/wait.js'

// A copy of a stored sale that comes after its time has left the bounds a new sale must keep
// (30 days back: protocol saleTimeProblem) is still a repeat: answered as any repeat, from the
// database when no memory holds it, and never stored as refused. Only a sale not stored is refused
// for its time. The system-level case is in poison-input.test.ts; this one keeps no memory of
// content (knownContent 0), so every answer comes from the table.

const DAY = 86_400_000

describe('sale consumer: copies of stored sales past the time bounds', () => {
  let database: TestDatabase
  let machine: Credentials
  const db = () => database.handle.db
  const answers: { machineId: string; saleId: string; payload: DisplayMessage }[] = []
  let written = 0

  /** A consumer whose clock is `at`, remembering no content, answering into `answers`. */
  function consumerAt(at: number, ackWhenStored = false) {
    return createSaleConsumer({
      db: db(), logger: pino({ level: 'silent' }), chunkMax: 100, windowMs: 0, highWater: 1000, knownContent: 0, now: () => new Date(at), ackWhenStored,
      publisher: { publishDirect: (machineId, saleId, payload) => { answers.push({ machineId, saleId, payload }) }, answerRepeat: () => false },
      onStored: () => {}, onWritten: () => { written++ },
    })
  }
  async function send(consumer: ReturnType<typeof consumerAt>, event: SaleEvent): Promise<void> {
    const before = written
    consumer.accept(`vending/${machine.id}/sale`, machine.id, Buffer.from(JSON.stringify(event)), () => {})
    await waitFor(() => written > before || undefined, 'the chunk written')
  }
  const rejectedRows = async (saleId: string) =>
    (await db().selectFrom('rejected_messages').select('reason').where('sale_id', '=', saleId).execute()).map((r) => r.reason)

  beforeAll(async () => {
    database = await createTestDatabase()
    ;[machine] = (await provisionFleet(db(), 1, { prefix: 'LATE-' })) as [Credentials]
  })

  afterAll(async () => {
    await database?.drop()
  })

  it('answers a copy of a receipted sale with its receipt, a copy of a pending one with nothing, and refuses the rest for their time', async () => {
    const now = Date.now()
    const receipted = sale({ at: new Date(now - 29 * DAY).toISOString() })
    const pending = sale({ at: new Date(now - 29 * DAY).toISOString() })
    const today = consumerAt(now)
    await send(today, receipted)
    expect((await signPendingBatch(db(), TEST_KASSA.id, { batchMax: 10, publicUrl: 'http://receipts.test', now: () => new Date(now) })).signed).toBe(1)
    await send(today, pending)
    await today.stop()
    const stored = await db().selectFrom('fiscal_documents').select('display').where('fn', '=', TEST_KASSA.fn).where('display', 'is not', null).execute()
    expect(stored).toHaveLength(1)

    // Two days on, both sales are 31 days old.
    const later = consumerAt(now + 2 * DAY)
    await send(later, receipted)
    expect(answers).toEqual([{ machineId: machine.id, saleId: receipted.saleId, payload: JSON.parse(stored[0]!.display!) }])
    await send(later, pending)
    expect(answers).toHaveLength(1)
    // Another content under a stored saleId, and a sale never stored: refused for their time.
    const other = { ...receipted, items: [{ sku: 'B1', name: 'Сок', price: 9000, qty: 1, vat: 'vat22' as const }], payment: { method: 'card' as const, amount: 9000 } }
    const unknown = sale({ at: receipted.at })
    await send(later, other)
    await send(later, unknown)
    expect(answers.slice(1).map((a) => [a.saleId, a.payload.type, a.payload.type === 'rejected' && a.payload.reason])).toEqual([
      [receipted.saleId, 'rejected', `at: ${receipted.at} is more than 30 days before the gateway's clock`],
      [unknown.saleId, 'rejected', `at: ${receipted.at} is more than 30 days before the gateway's clock`],
    ])
    expect(await rejectedRows(pending.saleId)).toEqual([])
    expect(await rejectedRows(receipted.saleId)).toHaveLength(1) // the other content's
    expect(await rejectedRows(unknown.saleId)).toHaveLength(1)
    expect(later.stats).toMatchObject({ received: 4, stored: 0, repeated: 2, rejected: 2 })
    await later.stop()
  })

  it('stores a sale sent again dated within the bounds while a copy dated beyond them waits in the same chunk', async () => {
    const now = Date.now()
    const within = sale({ at: new Date(now - 3_600_000).toISOString() })
    const beyond = { ...within, at: new Date(now - 31 * DAY).toISOString() }
    const consumer = consumerAt(now, true)
    const acked: string[] = []
    const before = written
    // Both read before the chunk is written: the copy beyond the bounds first.
    for (const [name, event] of [['beyond', beyond], ['within', within]] as const) {
      consumer.accept(`vending/${machine.id}/sale`, machine.id, Buffer.from(JSON.stringify(event)), () => acked.push(name))
    }
    await waitFor(() => written > before || undefined, 'the chunk written')
    // PUBACK means stored: both acknowledged once the sale is.
    expect(acked.sort()).toEqual(['beyond', 'within'])
    const rows = await db().selectFrom('sales').select(['sale_id', 'state']).where('sale_id', '=', within.saleId).execute()
    expect(rows).toEqual([{ sale_id: within.saleId, state: 'pending' }])
    // The copy beyond the bounds is a repeat of the sale just stored: no refusal, no answer yet.
    expect(await rejectedRows(within.saleId)).toEqual([])
    expect(answers.filter((a) => a.saleId === within.saleId)).toEqual([])
    await consumer.stop()
  })

  it('answers each copy beyond the bounds in a chunk by its own content: the repeat with its receipt, another content refused', async () => {
    const now = Date.now()
    const original = sale({ at: new Date(now - 29 * DAY).toISOString() })
    const today = consumerAt(now)
    await send(today, original)
    // Signs it with what the cases before left pending.
    await signPendingBatch(db(), TEST_KASSA.id, { batchMax: 10, publicUrl: 'http://receipts.test', now: () => new Date(now) })
    expect(await db().selectFrom('sales').select('state').where('sale_id', '=', original.saleId).execute()).toEqual([{ state: 'done' }])
    await today.stop()
    const later = consumerAt(now + 2 * DAY)
    const other = { ...original, items: [{ sku: 'C1', name: 'Чай', price: 7000, qty: 1, vat: 'vat22' as const }], payment: { method: 'card' as const, amount: 7000 } }
    const before = written
    for (const event of [original, other]) later.accept(`vending/${machine.id}/sale`, machine.id, Buffer.from(JSON.stringify(event)), () => {})
    await waitFor(() => written > before || undefined, 'the chunk written')
    expect(answers.filter((a) => a.saleId === original.saleId).map((a) => a.payload.type)).toEqual(['receipt', 'rejected'])
    expect(await rejectedRows(original.saleId)).toEqual([`at: ${original.at} is more than 30 days before the gateway's clock`])
    await later.stop()
  })
})
