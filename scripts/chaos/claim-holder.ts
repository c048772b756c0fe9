// Takes a kassa's FN claim the way the fiscalizer does (the FN row lock, in a transaction on the
// gateway's own pool settings) and holds it until the process is killed or frozen: the e2e test
// measures how soon another gateway can claim the FN again. Prints "claimed" once it holds it.
import { openDatabase } from '../../gateway/db/database.js'
import { claimFiscalDrive } from '../../gateway/fiscalizer/fiscal.repository.js'

const url = process.env.DATABASE_URL
const kassaId = process.env.KASSA_ID ?? 'K1'
if (!url) throw new Error('DATABASE_URL is required')
const database = await openDatabase({ url, dataDir: '', poolSize: 1 })
setInterval(() => undefined, 60_000) // stays alive whatever happens to its connection
await database.db.transaction().execute(async (tx) => {
  const drive = await claimFiscalDrive(tx, kassaId)
  // The time (ms) lets the test measure from the claim itself, however late it reads this line.
  process.stdout.write(`${drive ? 'claimed' : 'not claimed'} ${kassaId} at ${Date.now()}\n`)
  await new Promise(() => undefined) // the transaction stays open: the claim is held
})
