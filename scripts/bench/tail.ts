// Where a step's slowest sales fell in time. A p99 set by a few stalls (periodic work, a long GC
// pause) shows as the slowest 1% in a few windows; one set by queueing everywhere, in most of them.

export interface TailFigures {
  /** Window length, ms of send time. */
  windowMs: number
  /** Windows the step's sales were sent in. */
  windows: number
  /** Sales at or above the step's p99 latency. */
  slowest: number
  /** Windows holding those sales. */
  slowestInWindows: number
  /** ms of median latency beyond which a window counts in `windowsMedianAbove`. */
  medianAboveMs: number
  /** Windows whose median latency exceeds `medianAboveMs`: queueing rather than stalls. */
  windowsMedianAbove: number
}

/** `sentAt` (ms, any clock) and `latencyMs` of each receipted sale of a step, in the same order. */
export function tailFigures(sentAt: readonly number[], latencyMs: readonly number[], windowMs = 100, medianAboveMs = 20): TailFigures | undefined {
  if (sentAt.length === 0 || sentAt.length !== latencyMs.length) return undefined
  const start = sentAt.reduce((a, b) => Math.min(a, b), Infinity)
  const windowOf = sentAt.map((t) => Math.floor((t - start) / windowMs))
  const byWindow = new Map<number, number[]>()
  windowOf.forEach((w, i) => {
    const list = byWindow.get(w)
    if (list) list.push(latencyMs[i]!)
    else byWindow.set(w, [latencyMs[i]!])
  })
  const sorted = [...latencyMs].sort((a, b) => a - b)
  const p99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!
  const tail = new Set<number>()
  let slowest = 0
  windowOf.forEach((w, i) => {
    if (latencyMs[i]! < p99) return
    slowest++
    tail.add(w)
  })
  let windowsMedianAbove = 0
  for (const list of byWindow.values()) {
    list.sort((a, b) => a - b)
    if (list[Math.floor(list.length / 2)]! > medianAboveMs) windowsMedianAbove++
  }
  return { windowMs, windows: byWindow.size, slowest, slowestInWindows: tail.size, medianAboveMs, windowsMedianAbove }
}
