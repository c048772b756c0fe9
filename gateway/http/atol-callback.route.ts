import type { FastifyInstance } from 'fastify'
import type { AtolReportResult } from '../atol/atol.client.js'
import type { CallbackOutcome } from '../atol/callback-check.js'
import { reportFromBody } from '../atol/report-body.js'

export interface AtolCallbackHandler {
  acceptReport(kassaId: string, uuid: string, claimed: AtolReportResult): Promise<CallbackOutcome>
}

/**
 * `POST /atol/callback/{kassaId}`: an ATOL-v5 provider POSTs the final report here when the request
 * carried `service.callback_url`. Public (the provider has no token of ours), so it is only a hint:
 * for a uuid that is the open attempt of a submitted sale of that kassa, the gateway fetches the
 * report from the provider and acts on that (atol.poller.ts); any other uuid is 404 and changes
 * nothing. Polling goes on regardless, so a lost callback costs only latency.
 */
export function registerAtolCallbackRoute(app: FastifyInstance, handler: AtolCallbackHandler, onOutcome: (outcome: CallbackOutcome) => void = () => {}): void {
  app.post<{ Params: { kassaId: string } }>('/atol/callback/:kassaId', async (req, reply) => {
    const report = reportFromBody(req.body)
    if (!report.ok) return reply.code(400).send({ ok: false, error: report.reason })
    const outcome = await handler.acceptReport(req.params.kassaId, report.uuid, report.result)
    onOutcome(outcome)
    // The same answer for a confirmed, forged or not yet verifiable report: the caller learns nothing.
    return reply.code(outcome === 'unknown' ? 404 : 200).send({ ok: outcome !== 'unknown' })
  })
}
