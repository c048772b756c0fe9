import { readFile } from 'node:fs/promises'
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http'
import { createServer as createNetServer, type AddressInfo, type Server } from 'node:net'
import type { Duplex } from 'node:stream'
import { createServer as createTlsServer } from 'node:tls'
import { WebSocketServer, createWebSocketStream } from 'ws'
import type { BrokerTlsConfig } from './config.js'

// The broker's sockets: TCP always, TLS and WebSocket when configured. Every socket has TCP_NODELAY:
// measured here, a sale → display round trip through Aedes took 88 ms at the median without it and
// 0.3 ms with it (docs/performance.md#tcp_nodelay-on-every-socket): a small packet behind one not yet
// acknowledged waits for the peer's delayed acknowledgement.

export type ConnectionHandler = (conn: Duplex, req?: IncomingMessage) => void

export interface ListenerOptions {
  host: string | undefined
  port: number
  tls: BrokerTlsConfig | undefined
  wsPort: number | undefined
  /** bytes; ws would otherwise buffer frames up to 100 MiB before the MQTT parser sees them. */
  wsMaxPayload: number
  /** Sockets per listener, counted by Node before any TLS or WebSocket handshake (the broker counts after). */
  maxSockets: number
  /** Called for each socket Node drops at `maxSockets`. */
  onDrop(): void
  /** listen(2)'s backlog of each listener (BrokerGuardConfig.listenBacklog). */
  backlog: number
}

/** ms for a TLS handshake; Node's default of 120 s lets half-open handshakes hold sockets. */
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000

export interface BrokerPorts {
  port: number
  tlsPort?: number
  wsPort?: number
}

export interface Listeners {
  ports: BrokerPorts
  /** Stops accepting at once; resolves when every server has closed (its connections must be ended by the caller). */
  close(): Promise<void>
}

export const WS_PATH = '/mqtt'

function listen(server: Server, port: number, host: string | undefined, backlog: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port, ...(host !== undefined && { host }), backlog }, () => {
      server.off('error', reject)
      resolve((server.address() as AddressInfo).port)
    })
  })
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}

function webSocketServer(handle: ConnectionHandler, maxPayload: number): { http: HttpServer; wss: WebSocketServer } {
  const http = createHttpServer({ noDelay: true }, (_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end(`MQTT over WebSocket: upgrade at ${WS_PATH}\n`)
  })
  const wss = new WebSocketServer({ server: http, path: WS_PATH, maxPayload })
  // ws re-emits the HTTP server's errors; listen() already reports them, and unheard they would throw.
  wss.on('error', () => {})
  wss.on('connection', (ws, req) => {
    req.socket.setNoDelay(true)
    handle(createWebSocketStream(ws), req)
  })
  return { http, wss }
}

export async function openListeners(options: ListenerOptions, handle: ConnectionHandler): Promise<Listeners> {
  const servers: Server[] = []
  const limit = (server: Server): void => {
    server.maxConnections = options.maxSockets
    server.on('drop', options.onDrop)
  }
  let wss: WebSocketServer | undefined
  const close = async (): Promise<void> => {
    wss?.close()
    for (const server of servers) (server as HttpServer).closeAllConnections?.()
    await Promise.all(servers.map(closeServer))
  }
  try {
    const tcp = createNetServer({ noDelay: true }, (socket) => handle(socket))
    servers.push(tcp)
    limit(tcp)
    const ports: BrokerPorts = { port: await listen(tcp, options.port, options.host, options.backlog) }

    if (options.tls) {
      const [cert, key] = await Promise.all([readFile(options.tls.certFile), readFile(options.tls.keyFile)])
      const tls = createTlsServer({ cert, key, noDelay: true, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }, (socket) => {
        socket.setNoDelay(true)
        handle(socket)
      })
      limit(tls)
      servers.push(tls)
      ports.tlsPort = await listen(tls, options.tls.port, options.host, options.backlog)
    }

    if (options.wsPort !== undefined) {
      const ws = webSocketServer(handle, options.wsMaxPayload)
      wss = ws.wss
      limit(ws.http)
      servers.push(ws.http)
      ports.wsPort = await listen(ws.http, options.wsPort, options.host, options.backlog)
    }
    return { ports, close }
  } catch (err) {
    await close() // a port in use must not leave the other listeners open
    throw err
  }
}
