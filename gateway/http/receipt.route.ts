import type { FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import type { Database } from '../db/schema.js'
import { renderReceiptPage } from './receipt-page.js'
import { findReceipt } from './receipt.repository.js'
import { receiptView } from './receipt-view.js'

/** `GET /r/{fn}/{fd}?fp=`: public, so a wrong or missing fp answers 404 exactly like a missing document. */
export function registerReceiptRoutes(app: FastifyInstance, db: Kysely<Database>): void {
  app.get<{ Params: { fn: string; fd: string }; Querystring: { fp?: string } }>('/r/:fn/:fd', async (req, reply) => {
    const { fn, fd } = req.params
    const notFound = () => reply.code(404).type('text/plain; charset=utf-8').send('receipt not found')
    if (!/^\d{16}$/.test(fn) || !/^[1-9]\d{0,9}$/.test(fd)) return notFound()
    const stored = await findReceipt(db, fn, Number(fd))
    if (!stored || stored.fp !== req.query.fp) return notFound()
    const view = receiptView(stored)
    if (req.headers.accept?.includes('application/json')) return reply.send(view)
    return reply.type('text/html; charset=utf-8').send(await renderReceiptPage(view))
  })
}
