import type { FastifyInstance } from 'fastify'
import type { AtolReportResult } from '../atol/atol.client.js'
import { reportFromBody } from '../atol/report-body.js'

export interface AtolCallbackHandler {
  acceptReport(kassaId: string, uuid: string, result: AtolReportResult): Promise<'recorded' | 'unknown'>
}

/**
 * `POST /atol/callback/{kassaId}`: an ATOL-v5 provider POSTs the final report here when the request
 * carried `service.callback_url`. Public (the provider has no token of ours), so the body counts only
 * for a uuid that is the open attempt of a submitted sale of that kassa; anything else is 404 and
 * changes nothing. Polling goes on regardless, so a lost callback costs only latency.
 */
export function registerAtolCallbackRoute(app: FastifyInstance, handler: AtolCallbackHandler): void {
  app.post<{ Params: { kassaId: string } }>('/atol/callback/:kassaId', async (req, reply) => {
    const report = reportFromBody(req.body)
    if (!report.ok) return reply.code(400).send({ ok: false, error: report.reason })
    const outcome = await handler.acceptReport(req.params.kassaId, report.uuid, report.result)
    return reply.code(outcome === 'recorded' ? 200 : 404).send({ ok: outcome === 'recorded' })
  })
}
