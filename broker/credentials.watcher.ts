import type { Logger } from 'pino'
import type { MachineCredentialsChange, MachineDirectory } from './machine-directory.js'

// rotate-secret and disable-machine move `credentials_at`; this loop notices and lets the broker close
// connections that logged in with credentials no longer valid. Polling (not LISTEN/NOTIFY) because it
// works the same on PostgreSQL and on the embedded database, and one small query a second is cheap.

/**
 * Rows are asked for from a little before the newest change seen, not from it: `credentials_at` is
 * `now()`, the start of the writing transaction, so a transaction that commits late carries a time
 * earlier than changes already seen. Seeing a change twice is harmless (the handler is idempotent).
 */
export const CHANGE_OVERLAP_MS = 30_000

export interface CredentialsWatcher {
  /** Polls every `intervalMs` until stopped. */
  start(): void
  /** Waits for a poll in progress, then stops. */
  stop(): Promise<void>
  /** One poll: reads the changes and hands them to `onChange`. */
  runOnce(): Promise<void>
}

export interface CredentialsWatcherDeps {
  directory: MachineDirectory
  intervalMs: number
  onChange(change: MachineCredentialsChange): void
  logger: Logger
}

export function createCredentialsWatcher(deps: CredentialsWatcherDeps): CredentialsWatcher {
  // The newest credentials_at seen, on the database's clock. The first poll asks from the epoch
  // (one full read) rather than from the broker's clock, which may run ahead of the database's.
  let newest = 0
  // The directory's clock when the last successful poll started: a row written after that poll
  // carries a time no earlier than it, less a transaction's length (the overlap). Without it the
  // window stayed at the newest change less the overlap: after a bulk import, and no change since,
  // every poll read the whole import again (10,000 rows a second, a tenth of a busy broker's CPU).
  let polledAt = 0
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  let stopped = true

  async function poll(): Promise<void> {
    const clock = deps.directory.clock ? (await deps.directory.clock()).getTime() : 0
    const since = new Date(Math.max(0, Math.max(newest, polledAt) - CHANGE_OVERLAP_MS))
    const changes = await deps.directory.changedSince(since)
    for (const change of changes) {
      newest = Math.max(newest, change.credentialsAt.getTime())
      deps.onChange(change)
    }
    polledAt = Math.max(polledAt, clock)
  }

  // Warn when reads start failing and when they recover, not once a second while the database is down.
  let failing = false
  function runOnce(): Promise<void> {
    running ??= poll()
      .then(() => {
        if (failing) deps.logger.info('machine credentials readable again')
        failing = false
      }, (err: unknown) => {
        if (!failing) deps.logger.warn({ err }, 'could not read machine credentials; retrying')
        else deps.logger.debug({ err }, 'still cannot read machine credentials')
        failing = true
      })
      .finally(() => {
        running = undefined
      })
    return running
  }

  function schedule(): void {
    if (stopped) return
    timer = setTimeout(() => {
      void runOnce().then(schedule)
    }, deps.intervalMs)
  }

  return {
    start() {
      if (!stopped) return
      stopped = false
      void runOnce().then(schedule)
    },
    async stop() {
      stopped = true
      clearTimeout(timer)
      await running
    },
    runOnce,
  }
}
