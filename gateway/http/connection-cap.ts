import { readFileSync } from 'node:fs'
import type { Server } from 'node:http'
import type { Socket } from 'node:net'

// The HTTP server's share of the process's file descriptors. Without a cap, 2 × 10,000 slow-header
// connections took all 20,000 descriptors: health probes and receipt pages went dark for 46 s and
// the fiscalizer's database polls failed with EMFILE. At the cap the connection that has been idle
// longest (no request in progress: a slow header, or a keep-alive between requests) is closed to
// make room, so a client that sends its request at once is served however many slow ones wait;
// only when every connection is busy with a request does a new one get a 503 and close.

const OVER_CAPACITY = Buffer.from(
  'HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-type: text/plain\r\nretry-after: 1\r\ncontent-length: 14\r\n\r\nover capacity\n',
)
/** Sockets above the cap Node itself refuses (closed unanswered): room for the 503s in flight. */
const HARD_MARGIN = 256
const AUTO_MAX = 10_000

/** The soft open-file limit of this process (Linux), or null where it cannot be read. */
export function openFileLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    return m ? Number(m[1]) : null
  } catch {
    return null
  }
}

/** HTTP_MAX_CONNECTIONS = 0: half the open-file limit, at most 10,000. */
export function resolveMaxConnections(configured: number, fdLimit: number | null = openFileLimit()): number {
  if (configured > 0) return configured
  return fdLimit === null ? AUTO_MAX : Math.max(64, Math.min(AUTO_MAX, Math.floor(fdLimit / 2)))
}

export interface ConnectionCapStats { open: number; max: number; evicted: number; refused: number }

export function capConnections(server: Server, max: number): () => ConnectionCapStats {
  // Insertion order is age of idleness: the first is the one idle longest.
  const idle = new Set<Socket>()
  let open = 0
  let evicted = 0
  let refused = 0
  server.maxConnections = max + HARD_MARGIN

  server.on('connection', (socket: Socket) => {
    open++
    socket.once('close', () => {
      open--
      idle.delete(socket)
    })
    if (open > max) {
      const oldest = idle.values().next().value
      if (oldest) {
        idle.delete(oldest)
        evicted++
        oldest.destroy()
      } else {
        refused++
        socket.end(OVER_CAPACITY)
        setTimeout(() => socket.destroy(), 1000).unref()
        return
      }
    }
    idle.add(socket)
  })
  server.on('request', (req, res) => {
    const socket = req.socket
    idle.delete(socket)
    res.once('close', () => {
      if (!socket.destroyed) idle.add(socket) // keep-alive: idle until its next request
    })
  })
  return () => ({ open, max, evicted, refused })
}
