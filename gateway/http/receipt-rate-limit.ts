import type { FastifyReply, FastifyRequest } from 'fastify'

// Receipt lookups per client address, as a token bucket: a customer opens a receipt or two, a
// guesser of fiscal signs tries thousands a second (2,835/s seen before this limit). Over the limit
// the answer is 429 with Retry-After, and nothing is read from the database.

export interface RateLimitOptions {
  ratePerS: number
  burst: number
  /** Addresses remembered at most; the least recently seen are forgotten first (a full bucket again). */
  maxAddresses?: number
  now?: () => number
}

interface Bucket { tokens: number; at: number }

export function receiptRateLimit(o: RateLimitOptions) {
  const now = o.now ?? Date.now
  const maxAddresses = o.maxAddresses ?? 100_000
  const buckets = new Map<string, Bucket>()
  let limited = 0

  function take(address: string): number {
    const t = now()
    const b = buckets.get(address) ?? { tokens: o.burst, at: t }
    buckets.delete(address) // re-inserted below: the map's order is recency
    b.tokens = Math.min(o.burst, b.tokens + ((t - b.at) / 1000) * o.ratePerS)
    b.at = t
    let waitMs = 0
    if (b.tokens >= 1) b.tokens -= 1
    else waitMs = Math.ceil(((1 - b.tokens) / o.ratePerS) * 1000)
    buckets.set(address, b)
    if (buckets.size > maxAddresses) buckets.delete(buckets.keys().next().value!)
    return waitMs
  }

  return {
    /** An onRequest hook. */
    async check(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
      const waitMs = take(req.ip)
      if (waitMs === 0) return undefined
      limited++
      return reply.code(429).header('retry-after', String(Math.ceil(waitMs / 1000)))
        .type('text/plain; charset=utf-8').send('too many receipt lookups; try again shortly')
    },
    limited: () => limited,
  }
}
