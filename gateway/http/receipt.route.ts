import type { FastifyInstance, onRequestHookHandler } from 'fastify'
import type { Kysely } from 'kysely'
import type { Database } from '../db/schema.js'
import { NOT_FOUND_PAGE, renderReceiptPage } from './receipt-page.js'
import { findProviderReceipt } from './provider-receipt.repository.js'
import { findProviderCorrectionView } from './provider-correction.js'
import { providerReceiptView } from './provider-receipt-view.js'
import { findReceipt } from './receipt.repository.js'
import { receiptView } from './receipt-view.js'

/** FD numbers are PostgreSQL integers; a larger one (2^31 and up) cannot exist and must not reach a query. */
const MAX_FD = 2_147_483_647

/**
 * `GET /r/{fn}/{fd}?fp=`: public, so a wrong or missing fp answers 404 exactly like a missing
 * document, and lookups are rate-limited per client address (`limit`, before any database read).
 */
export function registerReceiptRoutes(app: FastifyInstance, db: Kysely<Database>, limit: onRequestHookHandler): void {
  app.get<{ Params: { fn: string; fd: string }; Querystring: { fp?: string } }>('/r/:fn/:fd', { onRequest: limit }, async (req, reply) => {
    const { fn, fd } = req.params
    const notFound = () => req.headers.accept?.includes('application/json')
      ? reply.code(404).send({ error: 'receipt not found' })
      : reply.code(404).type('text/html; charset=utf-8').send(NOT_FOUND_PAGE)
    if (!/^\d{16}$/.test(fn) || !/^[1-9]\d{0,9}$/.test(fd) || Number(fd) > MAX_FD) return notFound()
    const stored = await findReceipt(db, fn, Number(fd))
    // Not an emulated FN's document: a receipt a cloud kassa's FN signed, perhaps.
    const provider = stored ? null : await findProviderReceipt(db, fn, Number(fd))
    // Else a correction receipt a cloud kassa's FN signed.
    const correction = stored || provider ? null : await findProviderCorrectionView(db, fn, Number(fd))
    const found = stored ?? provider ?? correction
    if (!found || found.fp !== req.query.fp) return notFound()
    const view = stored ? receiptView(stored) : provider ? providerReceiptView(provider) : correction!.view
    if (req.headers.accept?.includes('application/json')) return reply.send(view)
    return reply.type('text/html; charset=utf-8').send(await renderReceiptPage(view))
  })
}
