import { Redis, type RedisOptions } from 'ioredis'
import MQEmitterRedis from 'mqemitter-redis'
import type { Logger } from 'pino'

// Several brokers share their routing through Redis pub/sub: mqemitter-redis as Aedes' `mq`. No
// shared persistence (sessions and retained messages stay in each broker's memory). Two failures
// of the plain set-up were reproduced with mqemitter-redis 7.2.1 / ioredis 5, and are guarded here:
// - the subscriber connection's ready check (an INFO command) can race its first SUBSCRIBE and be
//   refused in subscriber mode ("Connection in subscriber mode, only subscriber commands may be
//   used", ioredis #2037): the connections are made here with `enableReadyCheck: false`;
// - a Redis that goes away makes both connections and the emitter's `state` emit 'error': with no
//   listener, Node ends the process. Every emitter has one from its first line, and reconnecting
//   never stops (ioredis resubscribes what the broker subscribed once it is back).

/** ms between reconnect attempts, growing to this cap. */
const MAX_RETRY_MS = 1_000
/** Attempts a publish waits through before it fails; a display lost that way is recovered by the machine's republish. */
const PUBLISH_RETRIES = 3

export interface RedisBus {
  /** The emitter to hand to Aedes as `mq`. */
  readonly mq: unknown
  /** Both connections are up. */
  connected(): boolean
  close(): Promise<void>
}

interface MQEmitterRedisInstance {
  state: NodeJS.EventEmitter
  close(cb: () => void): void
}

export function createRedisBus(url: string, logger: Logger): RedisBus {
  const log = logger.child({ component: 'redis' })
  const options: RedisOptions = {
    enableReadyCheck: false,
    maxRetriesPerRequest: PUBLISH_RETRIES,
    retryStrategy: (times) => Math.min(50 * times, MAX_RETRY_MS),
    connectTimeout: 5_000,
    lazyConnect: false,
  }
  const subConn = new Redis(url, options)
  const pubConn = new Redis(url, options)
  // Logged once per outage, not once per reconnect attempt.
  let down = false
  const onError = (err: Error) => {
    if (down) return
    down = true
    log.error({ err }, 'Redis unreachable: messages between brokers wait; reconnecting')
  }
  const onReady = () => {
    if (!down || subConn.status !== 'ready' || pubConn.status !== 'ready') return
    down = false
    log.info('Redis reachable again')
  }
  for (const conn of [subConn, pubConn]) {
    conn.on('error', onError)
    conn.on('ready', onReady)
  }
  const mq = new (MQEmitterRedis as unknown as new (opts: object) => MQEmitterRedisInstance)({ subConn, pubConn })
  mq.state.on('error', onError)
  // Aedes' close() ends with mq.close(), whose QUIT waits for an answer Redis may never give while
  // it is away: then the connections are dropped instead.
  const quit = mq.close.bind(mq)
  let closed: Promise<void> | undefined
  const close = (): Promise<void> => closed ??= new Promise<void>((resolve) => {
    if (subConn.status === 'ready' && pubConn.status === 'ready') return quit(() => resolve())
    subConn.disconnect()
    pubConn.disconnect()
    resolve()
  })
  mq.close = (cb) => void close().then(cb)

  return {
    mq,
    connected: () => subConn.status === 'ready' && pubConn.status === 'ready',
    close,
  }
}
