import { Aedes } from 'aedes'
import { describe, expect, it } from 'vitest'
import { guardEmitterRecursion } from '../../broker/mq-recursion.guard.js'

// mqemitter drains its queue recursively; a long queue of messages whose subscribers answer at once
// overflowed the stack of the bench's broker (broker/mq-recursion.guard.ts). Aedes' own emitter,
// no sockets: hold the first `concurrency` deliveries so the rest queue, then let them all go.

interface Mq {
  on(topic: string, notify: (message: { topic: string; n: number }, done: () => void) => void): void
  emit(message: { topic: string; n: number }, done?: (err?: Error) => void): void
}

function flood(guarded: boolean, count: number): Promise<number[]> {
  const aedes = new Aedes() // concurrency 100, its mqemitter made in the constructor
  if (guarded) expect(guardEmitterRecursion(aedes)).toBe(true)
  const mq = (aedes as unknown as { mq: Mq }).mq
  const held: (() => void)[] = []
  const seen: number[] = []
  let holding = true
  mq.on('load/+', (message, done) => {
    seen.push(message.n)
    if (holding) held.push(done)
    else done() // answered at once: the next queued message starts inside this call
  })
  return new Promise((resolve, reject) => {
    let finished = 0
    for (let n = 0; n < count; n++) {
      mq.emit({ topic: `load/${n % 7}`, n }, (err) => {
        if (err) reject(err)
        if (++finished === count) resolve(seen)
      })
    }
    holding = false
    try {
      held.splice(0).forEach((done) => done())
    } catch (err) {
      reject(err)
    }
  })
}

describe('mqemitter recursion guard', () => {
  it('delivers a long queue of instantly answered messages, in order, without overflowing the stack', async () => {
    const seen = await flood(true, 20_000)
    expect(seen).toHaveLength(20_000)
    expect(seen.every((n, i) => n === i)).toBe(true)
  })

  it('is needed: unguarded, the same queue overflows the stack', async () => {
    await expect(flood(false, 20_000)).rejects.toThrow(RangeError)
  })
})
