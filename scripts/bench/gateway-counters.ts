import type { BenchServices } from './services.js'

// What the gateway says about itself on /metrics: batch sizes, its own latencies, its backlog.

export interface GatewayCounters {
  batchSum: number
  batchCount: number
  pending: number
  commitSum: number
  commitCount: number
  displaySum: number
  displayCount: number
  /** Batches that took sales, by how they were read: a claim, or the kick's copy (gateway_fiscal_batches_total). */
  claimBatches: number
  kickBatches: number
  /** Displays the gateway's sweeper published again (gateway_displays_resent_total). */
  resent: number
}

export async function gatewayCounters(services: BenchServices): Promise<GatewayCounters> {
  const text = await services.metrics()
  const value = (re: RegExp) => [...text.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0)
  return {
    batchSum: value(/^gateway_fiscal_batch_size_sum (\S+)$/gm),
    batchCount: value(/^gateway_fiscal_batch_size_count (\S+)$/gm),
    pending: value(/^gateway_sales_pending\{[^}]*\} (\S+)$/gm),
    commitSum: value(/^gateway_fiscalization_commit_seconds_sum (\S+)$/gm),
    commitCount: value(/^gateway_fiscalization_commit_seconds_count (\S+)$/gm),
    displaySum: value(/^gateway_fiscalization_display_seconds_sum (\S+)$/gm),
    displayCount: value(/^gateway_fiscalization_display_seconds_count (\S+)$/gm),
    claimBatches: value(/^gateway_fiscal_batches_total\{read="claim"\} (\S+)$/gm),
    kickBatches: value(/^gateway_fiscal_batches_total\{read="kick"\} (\S+)$/gm),
    resent: value(/^gateway_displays_resent_total (\S+)$/gm),
  }
}

/** Mean batch size, the gateway's mean latencies (ms) and the displays it published again, between two readings. */
export function gatewayFigures(a: GatewayCounters, b: GatewayCounters): { fiscalBatchMean?: number; kickedBatchShare?: number; gatewayMeanMs?: { commit: number; display: number }; displaysResent: number } {
  const batches = b.batchCount - a.batchCount
  const kicked = b.kickBatches - a.kickBatches
  const read = kicked + b.claimBatches - a.claimBatches
  const commits = b.commitCount - a.commitCount
  const displays = b.displayCount - a.displayCount
  return {
    displaysResent: b.resent - a.resent,
    ...(batches > 0 ? { fiscalBatchMean: Math.round(((b.batchSum - a.batchSum) / batches) * 10) / 10 } : {}),
    ...(read > 0 ? { kickedBatchShare: Math.round((kicked / read) * 100) / 100 } : {}),
    ...(commits > 0 ? { gatewayMeanMs: {
      commit: Math.round(((b.commitSum - a.commitSum) / commits) * 1e4) / 10,
      display: displays > 0 ? Math.round(((b.displaySum - a.displaySum) / displays) * 1e4) / 10 : 0,
    } } : {}),
  }
}

/** Before a step: what an earlier (failed) step left pending is signed first, so it does not load this one. */
export async function waitForBacklog(services: BenchServices, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const { pending } = await gatewayCounters(services)
    if (pending === 0 || Date.now() > deadline) return pending
    await new Promise((r) => setTimeout(r, 250))
  }
}
