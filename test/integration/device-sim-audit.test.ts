import { createServer, type AddressInfo } from 'node:net'
import { Aedes } from 'aedes'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseAudit } from '../../gateway/audit/audit-parser.js'
import { SimMachine } from '../../device-sim/machine.client.js'
import type { AuditDisplay } from '../../protocol/index.js'
import { waitFor } from '../support/wait.js'

describe('a simulated machine uploads its audit until the gateway answers (bare broker)', () => {
  let broker: Aedes
  let server: ReturnType<typeof createServer>
  let url: string

  beforeAll(async () => {
    broker = await Aedes.createBroker()
    server = createServer({ noDelay: true }, broker.handle)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  afterAll(async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()))
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })

  it('republishes the same bytes on each retry and stops at the answer carrying its hash', async () => {
    const observer = await mqtt.connectAsync(url, { clientId: 'observer-audit' })
    const seen: { topic: string; payload: Buffer }[] = []
    observer.on('message', (topic, payload) => seen.push({ topic, payload }))
    await observer.subscribeAsync(['vending/VM-001/audit', 'vending/VM-001/telemetry'], { qos: 1 })
    const answers: AuditDisplay[] = []
    const machine = new SimMachine({ url, id: 'VM-001', secret: '', auditRetryMs: 1000, onAudit: (a) => answers.push(a) })
    await machine.start()
    try {
      const t0 = Date.now()
      const hash = machine.uploadAudit(t0)
      machine.tick(t0 + 500) // not due yet
      machine.tick(t0 + 1000) // no answer: the same audit again
      await waitFor(() => seen.filter((m) => m.topic.endsWith('/audit')).length >= 2, 'two copies of the audit')
      const copies = seen.filter((m) => m.topic.endsWith('/audit'))
      expect(copies).toHaveLength(2)
      expect(copies[1]!.payload.equals(copies[0]!.payload)).toBe(true)
      const parsed = parseAudit(copies[0]!.payload)
      expect(parsed.ok && parsed.audit.crc).toBe('ok')

      await observer.publishAsync('vending/VM-001/display', JSON.stringify({ v: 1, type: 'audit', hash: 'f'.repeat(64), status: 'stored' }), { qos: 1 })
      await observer.publishAsync('vending/VM-001/display', JSON.stringify({ v: 1, type: 'audit', hash, status: 'stored' }), { qos: 1 })
      await waitFor(() => answers.length === 1, 'the answer to reach the machine')
      expect(answers[0]).toEqual({ v: 1, type: 'audit', hash, status: 'stored' })
      expect(machine.pendingAudits).toBe(0)

      // Answered: later ticks send nothing more. The telemetry sent after them arrives after anything they sent.
      machine.tick(t0 + 60_000)
      machine.publishTelemetry({ doorOpen: false })
      await waitFor(() => seen.some((m) => m.topic.endsWith('/telemetry')), 'the telemetry marker')
      expect(seen.filter((m) => m.topic.endsWith('/audit'))).toHaveLength(2)
    } finally {
      await machine.stop()
      await observer.endAsync()
    }
  })
})
