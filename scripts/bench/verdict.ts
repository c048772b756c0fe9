import type { StepResult } from './fleet-step.js'

// When a step counts as sustained: every sale answered exactly once, every machine connected, the
// simulator on schedule, and p99 under the limit. The first reason that fails is the step's limit.

export type Limit = 'defect' | 'lost' | 'connections' | 'simulator' | 'latency'

export interface Verdict { pass: boolean; limitedBy: Limit | null }

export function judge(step: StepResult, p99LimitMs: number): Verdict {
  const fail = (limitedBy: Limit): Verdict => ({ pass: false, limitedBy })
  if (step.duplicates > 0 || step.conflicts > 0 || step.rejected > 0) return fail('defect')
  if (step.lost > 0 || step.receipted < step.sent) return fail('lost')
  if (step.connected < step.machines) return fail('connections')
  // A burst has no schedule to keep and no latency goal: its figure is receipts per second.
  if (step.burst) return { pass: true, limitedBy: null }
  // Latency is measured from when a sale was made; if the simulator could not make them on time,
  // the queue was in the simulator and the latency figure hides it.
  if (step.scheduleLagP99Ms >= p99LimitMs || step.achievedRate < step.targetRate * 0.95) return fail('simulator')
  if (step.latencyMs.p99 >= p99LimitMs) return fail('latency')
  return { pass: true, limitedBy: null }
}
