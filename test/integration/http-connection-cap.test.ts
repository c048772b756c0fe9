import { createServer, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { capConnections, resolveMaxConnections } from '../../gateway/http/connection-cap.js'
import { silentSocket } from '../support/mqtt-raw.js'
import { waitFor } from '../support/wait.js'

// The HTTP connection cap on a real server and real sockets: idle (slow) connections make room for
// new ones; when every connection is busy with a request, a new one is told 503 and closed.

describe('HTTP connection cap', () => {
  let server: Server
  const sockets: Socket[] = []
  const hanging: (() => void)[] = []

  afterEach(async () => {
    for (const release of hanging.splice(0)) release()
    for (const s of sockets.splice(0)) s.destroy()
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  })

  async function start(max: number, handler: (release: () => void) => void) {
    server = createServer((req, res) => {
      if (req.url === '/hang') return handler(() => res.end('late'))
      res.end('ok')
    })
    const stats = capConnections(server, max)
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    return { port: (server.address() as AddressInfo).port, stats }
  }

  it('closes the longest-idle connections to serve a new request, however many slow ones wait', async () => {
    const { port, stats } = await start(10, () => {})
    for (let i = 0; i < 50; i++) {
      const s = await silentSocket(port)
      s.on('error', () => {})
      sockets.push(s)
    }
    await waitFor(() => stats().open <= 10, 'the cap to hold')
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) })
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('ok')
    expect(stats().evicted).toBeGreaterThanOrEqual(40)
    expect(stats().refused).toBe(0)
  })

  it('answers 503 at once when every connection is busy with a request', async () => {
    const { port, stats } = await start(3, (release) => hanging.push(release))
    const busy = Array.from({ length: 3 }, () => fetch(`http://127.0.0.1:${port}/hang`).then((r) => r.text()))
    await waitFor(() => hanging.length === 3, 'three requests in progress')
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) })
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('1')
    expect(stats().refused).toBe(1)
    for (const release of hanging.splice(0)) release()
    expect(await Promise.all(busy)).toEqual(['late', 'late', 'late'])
  })

  it('takes half the open-file limit when not configured, at most 10,000', () => {
    expect(resolveMaxConnections(0, 20_000)).toBe(10_000)
    expect(resolveMaxConnections(0, 1024)).toBe(512)
    expect(resolveMaxConnections(0, 1_048_576)).toBe(10_000)
    expect(resolveMaxConnections(300, 1024)).toBe(300)
  })
})
