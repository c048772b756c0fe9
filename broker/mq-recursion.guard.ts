import type { Aedes } from 'aedes'

// Aedes routes every publish through mqemitter, which runs at most `concurrency` (100) messages at
// once and queues the rest. When one finishes, the next queued message starts inside the finishing
// callback; for a message with no subscriber, or whose subscribers answer at once, that callback
// runs synchronously, so a long queue drains as one recursion: with 10,000 machines reconnecting
// after a scale run the bench's broker died of `RangeError: Maximum call stack size exceeded` in
// mqemitter `_do` → fastparallel → `released` → `_do` … (mqemitter 7.1.0; the upstream fix,
// mcollina/mqemitter#204, is still open). This guard lets the recursion go DEPTH_LIMIT deep, then
// puts the message back at the head of the queue, holding its concurrency slot, and lets a fresh
// stack (setImmediate) release the slot: whichever slot frees first takes the head, so the queue
// keeps its order, and publishes arriving meanwhile queue behind it.

const DEPTH_LIMIT = 64

/** The parts of mqemitter's instance this guard uses (internal: checked at runtime). */
interface EmitterInternals {
  current: number
  _doing: boolean
  _messageQueue: unknown[]
  _messageCallbacks: unknown[]
  /** Frees a slot and starts the queue's head (mqemitter's own `released`). */
  _released(): void
  _do(message: unknown, callback: unknown): unknown
}

/** Wraps `aedes.mq._do` in place; returns false (and changes nothing) if mqemitter's shape differs. */
export function guardEmitterRecursion(aedes: Aedes): boolean {
  const mq = (aedes as unknown as { mq?: Partial<EmitterInternals> }).mq
  if (!mq || typeof mq._do !== 'function' || typeof mq._released !== 'function' || typeof mq.current !== 'number' ||
    !Array.isArray(mq._messageQueue) || !Array.isArray(mq._messageCallbacks)) return false
  const emitter = mq as EmitterInternals
  const run = emitter._do.bind(emitter)
  let depth = 0
  emitter._do = (message, callback) => {
    if (depth >= DEPTH_LIMIT) {
      emitter._messageQueue.unshift(message)
      emitter._messageCallbacks.unshift(callback)
      emitter.current++
      emitter._doing = true
      setImmediate(emitter._released)
      return emitter
    }
    depth++
    try {
      return run(message, callback)
    } finally {
      depth--
    }
  }
  return true
}
