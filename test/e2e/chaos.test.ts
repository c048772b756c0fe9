import { afterAll, describe, expect, it } from 'vitest'
import { chaosHarness } from '../support/chaos-harness.js'

// `npm run chaos` as CI runs it: a minute of sales at 200/s through two gateway processes while
// gateways are SIGKILLed, the broker is killed and restarted, and the database is cut off. The
// harness (scripts/chaos.ts) judges from both ends, the machines' receipts and the database's
// documents; this test reads its verdict.

const ARGS = ['--duration', '60', '--rate', '200', '--machines', '50', '--kills', '5', '--broker-restarts', '1', '--db-cuts', '1', '--db-cut-ms', '6000', '--drain', '150']

describe('npm run chaos', () => {
  const harness = chaosHarness()
  afterAll(() => harness.cleanup())

  it('ends with every sale receipted exactly once, gapless and correctly signed, through kills, a broker restart and a database cut', async () => {
    const { code, verdict, summary, stderr } = await harness.run(ARGS)
    expect(code, `${summary}\n${stderr.slice(-4000)}`).toBe(0)
    expect(verdict.ok, summary).toBe(true)
    expect(verdict.sent).toBe(12_000) // 60 s × 200/s: the fleet sells on schedule whatever is down
    expect(verdict).toMatchObject({ lost: 0, duplicateReceipts: 0, fdGaps: 0, signFailures: 0, verifyFailures: 0, rejected: 0, gatewayCrashes: 0 })
    expect(verdict.receipted).toBe(verdict.sent)
    expect(verdict.receiptsInDatabase).toBe(verdict.sent)
    expect(verdict.gatewayKills).toBeGreaterThanOrEqual(5)
    expect(verdict.brokerRestarts).toBeGreaterThanOrEqual(1)
    expect(verdict.dbCuts).toBeGreaterThanOrEqual(1)
    console.log(`chaos verdict: ${summary}`)
  }, 420_000)
})
