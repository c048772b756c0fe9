import type { Logger } from 'pino'

// A broker outage in the log: once when the connection is lost (or the first connect fails), then
// at most once per interval while it stays down, and once when it is back. mqtt.js retries every
// 500 ms, and logging each 'error' and 'offline' wrote four lines a second for as long as it lasted.

export interface ConnectionLogOptions {
  logger: Logger
  /** Which connection: ingest or publisher. */
  name: string
  /** The broker, as configured (credentials are not in it: they are separate options). */
  url: string
  /** ms between reminders while the broker stays away; default one minute. */
  intervalMs?: number
  now?: () => number
}

const describe = (err: Error & { code?: unknown }) => (typeof err.code === 'string' && !err.message.includes(err.code) ? `${err.code}: ${err.message}` : err.message)

/** The events of an mqtt.js client this reads. */
export interface ConnectionEvents {
  on(event: 'connect' | 'close', listener: () => void): unknown
  on(event: 'error', listener: (err: Error) => void): unknown
}

export function logConnection(client: ConnectionEvents, options: ConnectionLogOptions): void {
  const { logger: log, name, url } = options
  const interval = options.intervalMs ?? 60_000
  const now = options.now ?? Date.now
  let state: 'new' | 'up' | 'down' = 'new'
  let downSince = 0
  let lastSaid = 0
  let failures = 0
  let lastError = ''

  const goDown = () => {
    state = 'down'
    downSince = now()
    lastSaid = downSince
  }
  client.on('connect', () => {
    if (state === 'down') {
      log.info({ client: name, broker: url, downS: Math.round((now() - downSince) / 1000), failedAttempts: failures }, 'broker connection back')
    } else if (state === 'new') {
      log.info({ client: name, broker: url }, 'connected to the broker')
    }
    state = 'up'
    failures = 0
    lastError = ''
  })
  const neverReached = (error: string | undefined) => {
    goDown()
    log.warn({ client: name, broker: url, ...(error && { error }) }, 'cannot reach the broker; retrying (logged again once a minute while it lasts)')
  }
  // Each failed attempt ends in 'close'; 'error' (when mqtt.js has one) says why.
  client.on('error', (err: Error) => {
    lastError = describe(err)
    if (state === 'new') neverReached(lastError)
  })
  client.on('close', () => {
    if (state === 'new') neverReached(undefined)
    if (state === 'up') {
      goDown()
      log.warn({ client: name, broker: url }, 'broker connection lost; reconnecting (logged again once a minute while it lasts)')
      return
    }
    failures += 1
    if (now() - lastSaid >= interval) {
      lastSaid = now()
      log.warn({ client: name, broker: url, downS: Math.round((now() - downSince) / 1000), failedAttempts: failures, ...(lastError && { error: lastError }) }, 'broker still unreachable')
    }
  })
}
