// A process that takes an embedded data directory's lock and holds it until killed, for the lock
// tests: `node --import tsx test/support/data-dir-holder.ts <dir> <mechanism>`. Prints `held` once it does.
import { acquireDataDir, type LockMechanism } from '../../gateway/db/data-dir.lock.js'

const [dir, mechanism] = process.argv.slice(2) as [string, LockMechanism]
const lock = await acquireDataDir(dir, 'test holder', mechanism)
lock.announce({ httpPort: 8081, dbPort: 5433 })
process.stdout.write('held\n')
setInterval(() => {}, 60_000)
