import { pino } from 'pino'
import { openDatabase } from '../../gateway/db/database.js'
import { createSaleConsumer } from '../../gateway/ingest/sale.consumer.js'
import { sale } from './machine-client.js'

// The sale consumer stopped at the two moments of its schedule where a write is due but not begun,
// as a process of its own, since a stop that never returns freezes the process it runs in:
// `node --import tsx consumer-stop.process.ts <database url> <machine id> window|immediate`. Prints
// `{"stored":N,"repeated":N,"loopTurned":bool}` once stop() has returned.
//   window:    a sale read during a burst waits `windowMs` for others; stop() comes in that wait.
//   immediate: a lone sale's write is set for the next turn of the event loop; stop() comes first.

const [url, machineId, moment] = process.argv.slice(2)
if (!url || !machineId || (moment !== 'window' && moment !== 'immediate')) {
  process.stderr.write('usage: consumer-stop.process.ts <database url> <machine id> window|immediate\n')
  process.exit(2)
}
const handle = await openDatabase({ url, dataDir: '' })
let storedCalls = 0
const consumer = createSaleConsumer({
  db: handle.db, logger: pino({ level: 'silent' }), chunkMax: 100, windowMs: 1000, highWater: 1000,
  publisher: { publishDirect: () => {}, answerRepeat: () => false },
  onStored: () => { storedCalls++ },
})
const accept = () => new Promise<void>((resolve) => {
  consumer.accept(`vending/${machineId}/sale`, machineId, Buffer.from(JSON.stringify(sale())), resolve)
})

if (moment === 'window') {
  // The first sale is written at once; the second comes within windowMs (a second: wide enough for
  // a busy machine) of that write's end, so it waits for the window, and stop() comes in the wait.
  await accept()
  while (storedCalls === 0) await new Promise((r) => setTimeout(r, 5))
  await accept()
} else {
  await accept()
}
// A timer due long before the test gives up: it fires only if stop() lets the event loop turn.
let loopTurned = false
setTimeout(() => { loopTurned = true }, 20)
await consumer.stop()
await new Promise((r) => setTimeout(r, 100))
process.stdout.write(`${JSON.stringify({ stored: consumer.stats.stored, repeated: consumer.stats.repeated, loopTurned })}\n`)
await handle.close()
