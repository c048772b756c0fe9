import type { FastifyInstance } from 'fastify'

// Sent with every answer, pages and JSON alike. The receipt page is one document with an inline
// style and an inline SVG QR, and no script: the policy allows exactly that. A route that sets its
// own policy (the dashboard's, which loads its script and style files) keeps it.
export const DEFAULT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // A receipt URL carries its fiscal sign: never hand it to another site.
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
})

export function addSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.headers(SECURITY_HEADERS)
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', DEFAULT_CSP)
    return payload
  })
}
