import { readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'

// Plain files next to this one, served as they are: no build step, nothing to run but the gateway.
const ASSETS = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard.css': { file: 'dashboard.css', type: 'text/css; charset=utf-8' },
  '/audits.js': { file: 'audits.js', type: 'text/javascript; charset=utf-8' },
} as const

// Everything the page shows comes from machines (ids, error texts), so no inline script or
// markup from data: the script builds the DOM with textContent, and the policy forbids the rest.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"

/** `GET /`: the fleet dashboard. Public page; the data behind it needs the operator token. */
export async function dashboardRoutes(app: FastifyInstance): Promise<void> {
  for (const [path, asset] of Object.entries(ASSETS)) {
    // Read once at start (not at import), so a missing file fails the start, not a request.
    const body = readFileSync(new URL(`./dashboard/${asset.file}`, import.meta.url))
    app.get(path, async (_req, reply) =>
      reply.type(asset.type).header('content-security-policy', CSP).header('cache-control', 'no-cache').send(body))
  }
}
