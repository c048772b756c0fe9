import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createAuthQueue, SHED } from '../../broker/auth-queue.js'
import { createConnectionGuard } from '../../broker/connection-guard.js'
import { createLoginThrottle } from '../../broker/login-throttle.js'

describe('login throttle', () => {
  const throttle = () => createLoginThrottle({ failures: 3, lockoutMs: 1000, lockoutMaxMs: 8000 })

  it('locks a key after its failures, and doubles the lockout for each failure while locked, up to the maximum', () => {
    const t = throttle()
    expect([t.fail('a', 0), t.fail('a', 10), t.fail('a', 20)]).toEqual([false, false, true])
    expect(t.locked('a', 500)).toBe(true)
    expect(t.locked('a', 1021)).toBe(false)
    const lockedUntil: number[] = []
    t.fail('b', 0); t.fail('b', 0); t.fail('b', 0) // locked for 1 s
    for (const at of [100, 200, 300, 400]) {
      t.fail('b', at)
      let end = at
      while (t.locked('b', end)) end += 100
      lockedUntil.push(end - at)
    }
    expect(lockedUntil).toEqual([2000, 4000, 8000, 8000])
  })

  it('forgets a key after a quiet period, and a cleared key at once', () => {
    const t = throttle()
    t.fail('a', 0); t.fail('a', 0)
    expect(t.fail('a', 5_000)).toBe(false) // the first two were forgotten
    t.fail('c', 0); t.fail('c', 0); t.fail('c', 0)
    t.clear('c')
    expect(t.locked('c', 1)).toBe(false)
  })

  it('remembers a bounded number of keys', () => {
    const t = createLoginThrottle({ failures: 3, lockoutMs: 1000, lockoutMaxMs: 8000, maxKeys: 100 })
    for (let i = 0; i < 1000; i++) t.fail(`k${i}`, 0)
    expect(t.size()).toBe(100)
  })
})

describe('authentication queue', () => {
  it('runs a few at once, queues a bounded number, and sheds the rest at once', async () => {
    const q = createAuthQueue({ concurrency: 2, maxWaiting: 2, maxWaitMs: 60_000 })
    let running = 0
    let peak = 0
    const release: (() => void)[] = []
    const job = () => new Promise<string>((resolve) => {
      running++
      peak = Math.max(peak, running)
      release.push(() => { running--; resolve('done') })
    })
    const results = Array.from({ length: 6 }, () => q.run(job))
    expect(await results[4]).toBe(SHED)
    expect(await results[5]).toBe(SHED)
    expect(q.stats()).toEqual({ active: 2, waiting: 2, shed: 2 })
    while (release.length > 0 || q.stats().active > 0) {
      release.shift()?.()
      await new Promise((r) => setImmediate(r))
    }
    expect(await Promise.all(results.slice(0, 4))).toEqual(['done', 'done', 'done', 'done'])
    expect(peak).toBe(2)
  })

  it('sheds a job that waited too long', async () => {
    const q = createAuthQueue({ concurrency: 1, maxWaiting: 10, maxWaitMs: 20 })
    let release!: () => void
    void q.run(() => new Promise<void>((r) => { release = r }))
    expect(await q.run(async () => 'late')).toBe(SHED)
    release()
  })
})

describe('pre-login connection guard', () => {
  it('closes the oldest silent socket of an address at its bound, and the oldest of all at the total', () => {
    const g = createConnectionGuard({ perAddress: 3, max: 5, minAgeMs: 0 })
    const a = Array.from({ length: 4 }, () => new PassThrough())
    a.forEach((s) => g.admit(s, '10.0.0.1'))
    expect(a.map((s) => s.destroyed)).toEqual([true, false, false, false])
    const b = Array.from({ length: 3 }, () => new PassThrough())
    b.forEach((s) => g.admit(s, '10.0.0.2'))
    // 3 + 3 > 5: the oldest of all (a[1]) made room.
    expect(a.map((s) => s.destroyed)).toEqual([true, true, false, false])
    expect(g.stats()).toEqual({ prelogin: 5, evicted: 2 })
  })

  it('leaves an address\'s sockets younger than minAgeMs alone (a storm through a load balancer); the total bound still holds', () => {
    let t = 0
    const g = createConnectionGuard({ perAddress: 2, max: 4, minAgeMs: 1000, now: () => t })
    const young = Array.from({ length: 4 }, () => new PassThrough())
    young.forEach((s) => g.admit(s, '10.9.9.9'))
    expect(young.some((s) => s.destroyed)).toBe(false)
    t = 1500
    const late = new PassThrough()
    g.admit(late, '10.9.9.9')
    expect(young[0]!.destroyed).toBe(true) // silent for 1.5 s: the address's bound takes it
    expect(g.stats().prelogin).toBe(4)
  })

  it('stops counting a socket once it logged in', () => {
    const g = createConnectionGuard({ perAddress: 1, max: 10, minAgeMs: 0 })
    const first = new PassThrough()
    g.admit(first, '10.0.0.1')
    g.loggedIn(first)
    const second = new PassThrough()
    g.admit(second, '10.0.0.1')
    expect(first.destroyed).toBe(false)
    expect(g.stats().prelogin).toBe(1)
  })
})
