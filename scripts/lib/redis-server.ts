import { spawn, type ChildProcess } from 'node:child_process'
import { createConnection } from 'node:net'
import { freePort } from './database-admin.js'

// A private redis-server for tests, the chaos run and the bench: a free port, nothing saved to
// disk, never the machine's own Redis. `stop()` ends the server (SIGKILL, as an outage does) and
// `start()` brings it back on the same port, empty, as a restarted Redis without persistence is.

export interface PrivateRedis {
  readonly url: string
  readonly port: number
  start(): Promise<void>
  stop(): Promise<void>
  running(): boolean
  /** The server's process id while it runs (CPU figures). */
  pid(): number | null
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port })
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (data) => { socket.destroy(); resolve(data.toString().startsWith('+PONG')) })
    socket.once('error', () => resolve(false))
    socket.setTimeout(1_000, () => { socket.destroy(); resolve(false) })
  })
}

export async function startPrivateRedis(binary = 'redis-server'): Promise<PrivateRedis> {
  const port = await freePort()
  let child: ChildProcess | null = null

  async function start(): Promise<void> {
    if (child) return
    const proc = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
    child = proc
    proc.once('exit', () => { if (child === proc) child = null })
    const deadline = Date.now() + 10_000
    while (!(await answers(port))) {
      if (!child) throw new Error(`redis-server on port ${port} exited at start`)
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer in 10 s`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  async function stop(): Promise<void> {
    const proc = child
    if (!proc) return
    child = null
    const exited = new Promise((resolve) => proc.once('exit', resolve))
    proc.kill('SIGKILL')
    await exited
  }

  await start()
  return { url: `redis://127.0.0.1:${port}`, port, start, stop, running: () => child !== null, pid: () => child?.pid ?? null }
}
