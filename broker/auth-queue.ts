// Login work that costs something (a database read for a machine not in memory, a scrypt check of a
// hash in the former scheme) runs here, a few at a time. What cannot start soon is shed at once:
// the machine gets CONNACK 3 and comes back later, instead of every login, honest ones included,
// waiting behind a flood (seen before this queue: 151 attempts/s for 30 s kept logins queued 327 s).

export const SHED: unique symbol = Symbol('shed')
export type Shed = typeof SHED

export interface AuthQueueOptions {
  /** Jobs running at once. */
  concurrency: number
  /** Jobs that may wait; one more is shed. */
  maxWaiting: number
  /** ms a job may wait before it is shed. */
  maxWaitMs: number
}

export interface AuthQueue {
  /** Runs `job` when a slot frees, or resolves SHED when the queue is full or the wait too long. */
  run<T>(job: () => Promise<T>): Promise<T | Shed>
  stats(): { active: number; waiting: number; shed: number }
  /** Sheds everything waiting (the broker is stopping). */
  close(): void
}

interface Waiting { start(): void; shed(): void; timer: NodeJS.Timeout }

export function createAuthQueue(o: AuthQueueOptions): AuthQueue {
  let active = 0
  let shed = 0
  const waiting: Waiting[] = []

  function next(): void {
    const w = waiting.shift()
    if (!w) return
    clearTimeout(w.timer)
    w.start()
  }

  return {
    run<T>(job: () => Promise<T>): Promise<T | Shed> {
      return new Promise<T | Shed>((resolve, reject) => {
        const start = (): void => {
          active++
          job().then(resolve, reject).finally(() => {
            active--
            next()
          })
        }
        if (active < o.concurrency) return start()
        if (waiting.length >= o.maxWaiting) {
          shed++
          return resolve(SHED)
        }
        const entry: Waiting = {
          start,
          shed: () => { shed++; resolve(SHED) },
          timer: setTimeout(() => {
            const i = waiting.indexOf(entry)
            if (i >= 0) waiting.splice(i, 1)
            entry.shed()
          }, o.maxWaitMs),
        }
        waiting.push(entry)
      })
    },
    stats: () => ({ active, waiting: waiting.length, shed }),
    close() {
      for (const w of waiting.splice(0)) {
        clearTimeout(w.timer)
        w.shed()
      }
    },
  }
}
