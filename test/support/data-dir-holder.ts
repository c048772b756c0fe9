// A process that takes an embedded data directory's lock and holds it until killed, for the lock
// tests: `node --import tsx test/support/data-dir-holder.ts <dir> <mechanism> [busy]`. Prints `held` once
// it does; with `busy` its event loop then stays blocked, so it holds the lock without answering on it.
import { acquireDataDir, type LockMechanism } from '../../gateway/db/data-dir.lock.js'

const [dir, mechanism, busy] = process.argv.slice(2) as [string, LockMechanism, string | undefined]
const lock = await acquireDataDir(dir, 'test holder', mechanism)
lock.announce({ httpPort: 8081, dbPort: 5433 })
process.stdout.write('held\n')
if (busy === 'busy') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120_000)
setInterval(() => {}, 60_000)
