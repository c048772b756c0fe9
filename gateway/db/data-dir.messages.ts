import { DataDirDamagedError } from './data-dir.damage.js'
import { DataDirBusyError, describeHolder } from './data-dir.lock.js'

// The one line a process prints when it cannot have its embedded data directory, with the ways out.

/** The line for a held or damaged directory, or null for any other failure. `fresh` is the command that starts over. */
export function dataDirFailureLine(err: unknown, fresh: string): string | null {
  if (err instanceof DataDirBusyError) {
    const reach = err.holder?.dbPort !== undefined ? 'or reach it with `npm run fleet -- list`' : 'or try again in a moment (it does not serve its database, or not yet)'
    return `DATA_DIR ${err.dataDir} is in use by ${describeHolder(err.holder)}: stop it, set another DATA_DIR, ${reach}`
  }
  if (err instanceof DataDirDamagedError) {
    return `${err.message}. To move it aside (kept as ${err.dataDir.replace(/[/\\]+$/, '')}.aside-<time>) and start with an empty database: \`${fresh}\``
  }
  return null
}
