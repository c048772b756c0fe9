import { afterAll, describe, expect, it } from 'vitest'
import { chaosHarness } from '../support/chaos-harness.js'

// The cluster under faults: 3 brokers on a private redis-server (a free port, never the machine's
// own), 3 gateways, 200 machines that know every broker, 200 sales/s for 60 s. Faults: 3 broker
// SIGKILLs (each down 3 s, its machines move to the other brokers), 5 gateway SIGKILLs, Redis
// stopped for 5 s, the database cut for 6 s. Every process that exits on its own counts against
// the run, so a broker or gateway that Redis' absence stopped fails it.

const ARGS = [
  '--duration', '60', '--rate', '200', '--machines', '200', '--gateways', '3', '--brokers', '3',
  '--kills', '5', '--broker-restarts', '3', '--broker-down-ms', '3000', '--redis-stops', '1', '--redis-stop-ms', '5000',
  '--db-cuts', '1', '--db-cut-ms', '6000', '--drain', '150',
]

describe('npm run chaos, several brokers on Redis', () => {
  const harness = chaosHarness()
  afterAll(() => harness.cleanup())

  it('ends with every sale receipted exactly once, gapless and correctly signed, through broker, gateway, Redis and database faults', async () => {
    const { code, verdict, summary, stderr } = await harness.run(ARGS)
    expect(code, `${summary}\n${stderr.slice(-4000)}`).toBe(0)
    expect(verdict.ok, summary).toBe(true)
    expect(verdict.sent).toBe(12_000)
    expect(verdict).toMatchObject({
      lost: 0, duplicateReceipts: 0, fdGaps: 0, signFailures: 0, verifyFailures: 0, rejected: 0, gatewayCrashes: 0, brokerCrashes: 0,
    })
    expect(verdict.receipted).toBe(verdict.sent)
    expect(verdict.receiptsInDatabase).toBe(verdict.sent)
    expect(verdict).toMatchObject({ brokerRestarts: 3, redisStops: 1, dbCuts: 1 })
    expect(verdict.gatewayKills).toBeGreaterThanOrEqual(5)
    console.log(`cluster chaos verdict: ${summary}`)
  }, 540_000)
})
