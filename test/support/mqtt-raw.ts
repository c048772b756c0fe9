import { connect, type Socket } from 'node:net'
import { readFileSync } from 'node:fs'

// MQTT 3.1.1 at the byte level, for tests that act as an attacker would: thousands of CONNECTs or
// silent sockets, with no client library's retries or buffering in the way.

function utf8Field(s: string): Buffer {
  const b = Buffer.from(s, 'utf8')
  const len = Buffer.alloc(2)
  len.writeUInt16BE(b.length)
  return Buffer.concat([len, b])
}

function remainingLength(n: number): Buffer {
  const bytes: number[] = []
  do {
    let byte = n % 128
    n = Math.floor(n / 128)
    if (n > 0) byte |= 0x80
    bytes.push(byte)
  } while (n > 0)
  return Buffer.from(bytes)
}

/** CONNECT with clean session, username and password (MQTT 3.1.1 §3.1). */
export function connectPacket(clientId: string, username: string, password: string, keepaliveS = 60): Buffer {
  const variable = Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0xc2, keepaliveS >> 8, keepaliveS & 0xff])
  const payload = Buffer.concat([utf8Field(clientId), utf8Field(username), utf8Field(password)])
  return Buffer.concat([Buffer.from([0x10]), remainingLength(variable.length + payload.length), variable, payload])
}

export type RawLoginResult = { code: number; ms: number } | { code: 'closed' | 'timeout' | 'error'; ms: number }

/** One login on a fresh socket: the CONNACK return code (0 accepted, 3 unavailable, 5 refused), then closes. */
export function rawLogin(port: number, packet: Buffer, o: { host?: string; localAddress?: string; timeoutMs?: number } = {}): Promise<RawLoginResult> {
  const t0 = performance.now()
  return new Promise((resolve) => {
    const socket = connect({ port, host: o.host ?? '127.0.0.1', ...(o.localAddress && { localAddress: o.localAddress }), noDelay: true })
    let done = false
    const finish = (code: RawLoginResult['code']) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resolve({ code, ms: performance.now() - t0 } as RawLoginResult)
    }
    const timer = setTimeout(() => finish('timeout'), o.timeoutMs ?? 10_000)
    let buf = Buffer.alloc(0)
    socket.on('connect', () => socket.write(packet))
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d])
      if (buf.length >= 4 && buf[0] === 0x20) finish(buf[3]!)
    })
    socket.on('close', () => finish('closed'))
    socket.on('error', () => finish('error'))
  })
}

/** A socket that connects and never says anything. */
export function silentSocket(port: number, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', ...(localAddress && { localAddress }) })
    socket.once('connect', () => resolve(socket))
    socket.once('error', reject)
  })
}

/** CPU seconds (user + system) a process has used so far (Linux /proc/<pid>/stat, fields 14 and 15). */
export function cpuSeconds(pid: number, ticksPerSecond = 100): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond // fields[0] is field 3 (state)
}
