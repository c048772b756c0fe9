import v8 from 'node:v8'

// What the young generation's collections (scavenges) did while some code ran: how many, how long,
// and how much of what was allocated they found still alive and promoted. Behind
// scripts/spread-probe.ts and test/unit/fiscal-young-generation.test.ts.

export interface Scavenges {
  count: number
  /** Mean pause a scavenge, ms. */
  meanMs: number
  /** Mean KiB left in the young generation after a scavenge. */
  survivedKiB: number
  /** Mean KiB a scavenge moved to the old generation. */
  promotedKiB: number
}

type Spaces = { spaceName: string; spaceUsedSize: number }[]
const used = (spaces: Spaces, name: string) => spaces.find((s) => s.spaceName === name)?.spaceUsedSize ?? 0

/** Runs `work` under V8's GC profiler and sums its scavenges. */
export function scavengesDuring(work: () => void): Scavenges {
  const profiler = new v8.GCProfiler()
  profiler.start()
  work()
  const scavenges = profiler.stop().statistics.filter((g) => g.gcType === 'Scavenge')
  const n = Math.max(1, scavenges.length)
  const mean = (f: (g: (typeof scavenges)[number]) => number) => scavenges.reduce((t, g) => t + f(g), 0) / n
  return {
    count: scavenges.length,
    meanMs: Math.round(mean((g) => g.cost) / 10) / 100,
    survivedKiB: Math.round(mean((g) => used(g.afterGC.heapSpaceStatistics, 'new_space')) / 1024),
    promotedKiB: Math.round(mean((g) => Math.max(0, used(g.afterGC.heapSpaceStatistics, 'old_space') - used(g.beforeGC.heapSpaceStatistics, 'old_space'))) / 1024),
  }
}
