// A latency histogram in the style of HdrHistogram: log-linear buckets over integer microseconds.
// Values below 2·SUB µs get a bucket each; above that, every power of two is split into SUB equal
// buckets, so a bucket is at most 1/SUB = 0.8% of its value wide and its midpoint is within 0.4%.
// Memory is fixed by the range (about 3,500 counters up to an hour), not by the number of samples.

const SUB_BITS = 7
const SUB = 1 << SUB_BITS // 128
const LINEAR = SUB * 2 // µs values below this are exact

export interface Percentiles {
  p50: number
  p95: number
  p99: number
  max: number
}

export class LatencyHistogram {
  #counts = new Float64Array(LINEAR + 16 * SUB)
  #count = 0
  #minUs = Infinity
  #maxUs = 0

  get count(): number {
    return this.#count
  }

  /** Records one latency in ms (fractions of a ms are kept to the µs). Negative values count as 0. */
  record(ms: number): void {
    const us = Math.max(0, Math.round(ms * 1000))
    const index = bucketOf(us)
    if (index >= this.#counts.length) this.#grow(index)
    this.#counts[index] = (this.#counts[index] ?? 0) + 1
    this.#count += 1
    if (us < this.#minUs) this.#minUs = us
    if (us > this.#maxUs) this.#maxUs = us
  }

  /** The value in ms at or below which `p` percent of the samples fall; 0 when empty. */
  percentile(p: number): number {
    if (this.#count === 0) return 0
    if (p >= 100) return this.#maxUs / 1000
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count))
    let seen = 0
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i] ?? 0
      if (seen >= rank) {
        const [low, high] = rangeOf(i)
        // The midpoint halves the error; the true samples lie within [min, max].
        const mid = Math.min(this.#maxUs, Math.max(this.#minUs, (low + high) / 2))
        return mid / 1000
      }
    }
    return this.#maxUs / 1000
  }

  /** p50/p95/p99 within 0.4%, max exact; ms, rounded to the µs. */
  summary(): Percentiles {
    const round = (ms: number) => Math.round(ms * 1000) / 1000
    return {
      p50: round(this.percentile(50)),
      p95: round(this.percentile(95)),
      p99: round(this.percentile(99)),
      max: round(this.percentile(100)),
    }
  }

  #grow(index: number): void {
    const bigger = new Float64Array(Math.max(index + 1, this.#counts.length * 2))
    bigger.set(this.#counts)
    this.#counts = bigger
  }
}

/** Bucket index of a value in µs. */
export function bucketOf(us: number): number {
  if (us < LINEAR) return us
  const shift = floorLog2(us) - SUB_BITS // ≥ 1 here
  const mantissa = Math.floor(us / 2 ** shift) // in [SUB, 2·SUB)
  return LINEAR + (shift - 1) * SUB + (mantissa - SUB)
}

/** The values in µs that fall into a bucket, as [lowest, highest] inclusive. */
export function rangeOf(index: number): [number, number] {
  if (index < LINEAR) return [index, index]
  const shift = Math.floor((index - LINEAR) / SUB) + 1
  const mantissa = ((index - LINEAR) % SUB) + SUB
  const low = mantissa * 2 ** shift
  return [low, low + 2 ** shift - 1]
}

/** ⌊log2 v⌋ for v ≥ 1, corrected where Math.log2 rounds across a power of two. */
function floorLog2(v: number): number {
  let e = Math.floor(Math.log2(v))
  if (2 ** e > v) e -= 1
  else if (2 ** (e + 1) <= v) e += 1
  return e
}
