import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { FastifyInstance } from 'fastify'

// The console's scripts next to this file, and uPlot from node_modules: served by the gateway
// itself, so the console works without internet access (no CDN).
const TYPES = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' } as const
const CONSOLE = ['console-machines.js', 'console-journal.js', 'console-kassa.js', 'console-charts.js', 'console-alerts.js', 'console-admin.js', 'console-provision.js', 'console.css']
const UPLOT = ['uPlot.iife.min.js', 'uPlot.min.css']

export async function consoleAssetRoutes(app: FastifyInstance): Promise<void> {
  const uplotDir = join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist')
  const serve = (path: string, body: Buffer) => {
    const type = TYPES[path.endsWith('.css') ? 'css' : 'js']
    app.get(path, async (_req, reply) => reply.type(type).header('cache-control', 'no-cache').send(body))
  }
  // Read once at start (not at import), so a missing file fails the start, not a request.
  for (const file of CONSOLE) serve(`/console/${file}`, readFileSync(new URL(`./console/${file}`, import.meta.url)))
  for (const file of UPLOT) serve(`/vendor/${file}`, readFileSync(join(uplotDir, file)))
}
