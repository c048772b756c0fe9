import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { decodeBucketState, encodeBucketState, refillMs, type PublishLimiter, type RateLimit } from './rate-limit.js'

// Machines' publish budgets shared between brokers (REDIS_URL), so a machine that moves to another
// broker (its broker died, or the load balancer chose another) does not start there with a full
// burst. The hot path stays in memory (PublishLimiter.admit, no Redis per publish); Redis sees:
// - every FLUSH_MS, one pipeline of SET … PX with the buckets drained below half the burst since
//   the last flush (a broker SIGKILLed loses at most that interval's spending);
// - one SET when a machine disconnects with a bucket not full;
// - one GET per machine login, before its first publish: the bucket starts from the lower of this
//   broker's level and the shared one, refilled for the time since it was written.
// Each key lives as long as its bucket takes to refill: an expired key and a full bucket are the
// same. Redis away never stops a login: the GET is skipped or times out, the bucket stays local.
// Times are each broker's own clock: a skew of s seconds between two brokers refills a moving
// machine's bucket by s × rate tokens more or less (none when the writer's clock is ahead).

/** ms between writes of the drained buckets. */
export const FLUSH_MS = 500
/** ms a login waits for the shared budget before it goes on with the local one. */
const LOAD_TIMEOUT_MS = 250
/** ms a starting broker waits for Redis, so the logins right after a restart find the shared budgets. */
const READY_WAIT_MS = 1_000
const MAX_RETRY_MS = 1_000

export interface SharedBudget {
  /** Brings the machine's bucket up to what other brokers wrote. Never rejects. */
  load(machineId: string): Promise<void>
  /** Writes the machine's bucket now (it disconnected); not awaited. */
  save(machineId: string): void
  /** Connects; resolves once Redis answers, or after READY_WAIT_MS without it. */
  start(): Promise<void>
  /** Writes what is pending, then closes the connection. */
  close(): Promise<void>
}

export interface SharedBudgetDeps {
  url: string
  limiter: PublishLimiter
  limit: RateLimit
  /** Keys are `<keyPrefix><machineId>`. */
  keyPrefix: string
  now(): number
  logger: Logger
  flushMs?: number
}

export function createSharedBudget(deps: SharedBudgetDeps): SharedBudget {
  const { limiter, limit, keyPrefix, now } = deps
  const log = deps.logger.child({ component: 'publish-budget' })
  let conn: Redis | undefined
  let timer: NodeJS.Timeout | undefined
  // Logged once per outage, as the bus does (redis-bus.ts).
  let down = false
  const onError = (err: unknown): void => {
    if (down) return
    down = true
    log.warn({ err }, 'Redis unreachable: publish budgets are kept per broker until it is back')
  }
  const ready = (): Redis | undefined => (conn?.status === 'ready' ? conn : undefined)

  /** One pipeline for the drained buckets; dropped while Redis is away (they are marked again as they spend). */
  async function flush(): Promise<void> {
    const low = limiter.takeLow(now())
    const redis = ready()
    if (low.length === 0 || !redis) return
    const pipeline = redis.pipeline()
    for (const [machineId, state] of low) pipeline.set(keyPrefix + machineId, encodeBucketState(state), 'PX', refillMs(limit, state))
    await pipeline.exec().catch(onError)
  }

  return {
    async load(machineId) {
      const redis = ready()
      if (!redis) return
      try {
        const state = decodeBucketState(await redis.get(keyPrefix + machineId))
        if (state) limiter.adopt(machineId, state, now())
      } catch (err) {
        onError(err)
      }
    },
    save(machineId) {
      const state = limiter.state(machineId, now())
      const redis = ready()
      if (state && redis) redis.set(keyPrefix + machineId, encodeBucketState(state), 'PX', refillMs(limit, state)).catch(onError)
    },
    async start() {
      conn = new Redis(deps.url, {
        // A command while Redis is away fails at once instead of queueing behind a login.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        commandTimeout: LOAD_TIMEOUT_MS,
        // A storm of logins sends its GETs in few round trips.
        enableAutoPipelining: true,
        retryStrategy: (times) => Math.min(50 * times, MAX_RETRY_MS),
        connectTimeout: 5_000,
      })
      conn.on('error', onError)
      conn.on('ready', () => {
        if (!down) return
        down = false
        log.info('Redis reachable again: publish budgets shared')
      })
      timer = setInterval(() => void flush(), deps.flushMs ?? FLUSH_MS)
      timer.unref()
      const redis = conn
      let waited: NodeJS.Timeout | undefined
      return Promise.race([
        new Promise<void>((resolve) => redis.once('ready', () => resolve())),
        new Promise<void>((resolve) => { waited = setTimeout(resolve, READY_WAIT_MS) }),
      ]).finally(() => clearTimeout(waited))
    },
    async close() {
      clearInterval(timer)
      const redis = conn
      if (redis?.status === 'ready') {
        await flush()
        // Answered after every earlier write, the disconnects' included; times out (commandTimeout)
        // if Redis goes away now.
        await redis.ping().catch(() => {})
      }
      conn = undefined
      redis?.disconnect()
    },
  }
}
