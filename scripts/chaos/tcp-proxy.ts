import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net'

// A TCP proxy the chaos harness puts between the gateways and PostgreSQL, so it can take the
// database away without touching the machine's own server. Two kinds of cut:
//   'reset'     every connection is closed at once and new ones are refused (a server restart,
//               a firewall that rejects): clients see errors immediately and reconnect.
//   'blackhole' nothing is forwarded and nothing is closed (a partition): queries hang until the
//               cut heals, and then carry on; new connections wait (and the client times out).

export type CutMode = 'reset' | 'blackhole'

export interface TcpProxy {
  port: number
  /** Connections currently open through the proxy. */
  connections(): number
  cut(mode: CutMode): void
  heal(): void
  readonly cutMode: CutMode | null
  close(): Promise<void>
}

interface Pair { client: Socket; server: Socket | null }

export async function createTcpProxy(target: { host: string; port: number }, listenPort = 0): Promise<TcpProxy> {
  const pairs = new Set<Pair>()
  const frozen = new Set<Pair>()
  let mode: CutMode | null = null

  const destroy = (pair: Pair) => {
    pair.client.destroy()
    // Across a partition a client's close does not reach the server: PostgreSQL keeps the
    // session (and its locks) until the cut heals or its own timeouts end it.
    if (frozen.has(pair) && mode === 'blackhole') return
    frozen.delete(pair)
    pairs.delete(pair)
    pair.server?.destroy()
  }

  function connectUpstream(pair: Pair): void {
    const server = createConnection({ host: target.host, port: target.port, noDelay: true })
    pair.server = server
    // A close on either side closes the other at once: PostgreSQL must see a killed gateway's
    // connection end, or it would keep that gateway's row locks (its FN claims).
    server.on('error', () => destroy(pair))
    server.on('close', () => destroy(pair))
    pair.client.pipe(server)
    server.pipe(pair.client)
  }

  const listener = createServer({ noDelay: true, pauseOnConnect: true }, (client) => {
    if (mode === 'reset') return void client.destroy()
    const pair: Pair = { client, server: null }
    pairs.add(pair)
    client.on('error', () => destroy(pair))
    client.on('close', () => destroy(pair))
    // During a blackhole the new connection is held unanswered; heal() connects it upstream.
    if (mode === null) connectUpstream(pair)
  })
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject)
    listener.listen(listenPort, '127.0.0.1', () => resolve())
  })

  return {
    port: (listener.address() as AddressInfo).port,
    connections: () => pairs.size,
    get cutMode() { return mode },
    cut(next) {
      mode = next
      for (const pair of [...pairs]) {
        if (next === 'reset') destroy(pair)
        else if (pair.server) {
          // Stop reading both ways (unpiped, so a 'drain' cannot restart the flow): bytes wait in
          // buffers as they would on a dead link.
          pair.client.unpipe(pair.server)
          pair.server.unpipe(pair.client)
          pair.client.pause()
          pair.server.pause()
          frozen.add(pair)
        }
      }
    },
    heal() {
      mode = null
      for (const pair of [...pairs]) {
        if (pair.server === null) connectUpstream(pair)
        else if (frozen.delete(pair)) {
          if (pair.client.destroyed) destroy(pair)
          else {
            pair.client.pipe(pair.server)
            pair.server.pipe(pair.client)
          }
        }
      }
    },
    async close() {
      for (const pair of [...pairs]) destroy(pair)
      await new Promise<void>((resolve) => listener.close(() => resolve()))
    },
  }
}
