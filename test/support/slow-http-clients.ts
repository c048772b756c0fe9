// A slow-header attacker as its own process (its own open-file limit): keeps `count` HTTP
// connections open to 127.0.0.1:<port> from <localAddress>, each sending a request line and then
// one header line every 10 s, never finishing; a closed one is opened again 200 ms later.
// Prints one JSON line a second: {"dialled": n, "open": n, "opened": n, "closed": n} (dialled: connects
// attempted, opened: connects completed, open: connected now as this process sees it).
//   node --import tsx test/support/slow-http-clients.ts <port> <count> <localAddress>
import { connect, type Socket } from 'node:net'

const [port, count, localAddress] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4]]
let dialled = 0
let open = 0
let opened = 0
let closed = 0
let stopping = false

function dial(): void {
  if (stopping) return
  dialled++
  const socket: Socket = connect({ port, host: '127.0.0.1', ...(localAddress && { localAddress }) })
  let timer: NodeJS.Timeout | undefined
  socket.on('connect', () => {
    open++
    opened++
    socket.write('GET /healthz HTTP/1.1\r\nHost: gateway\r\n')
    timer = setInterval(() => socket.write(`X-Slow-${Date.now()}: 1\r\n`), 10_000)
  })
  socket.on('error', () => {})
  socket.on('close', (hadError) => {
    clearInterval(timer)
    if (socket.readyState !== 'opening' || !hadError) { open = Math.max(0, open - 1); closed++ }
    setTimeout(dial, 200)
  })
}

// Dialled 3,000 a second, so the attack builds up within seconds without starving this process.
let started = 0
const ramp = setInterval(() => {
  for (let i = 0; i < 300 && started < count; i++, started++) dial()
  if (started >= count) clearInterval(ramp)
}, 100)
const report = setInterval(() => process.stdout.write(`${JSON.stringify({ dialled, open, opened, closed })}\n`), 1_000)
// The test that started it is gone when its report cannot be written: so is this process.
process.stdout.on('error', () => process.exit(0))
process.on('SIGTERM', () => {
  stopping = true
  clearInterval(ramp)
  clearInterval(report)
  process.exit(0)
})
