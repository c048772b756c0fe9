import type { AddressInfo } from 'node:net'
import net from 'node:net'
import { Aedes } from 'aedes'
import mqtt, { type MqttClient } from 'mqtt'

// Why every socket of the broker and the gateway's MQTT client has TCP_NODELAY (broker/listeners.ts,
// gateway/mqtt/gateway-mqtt.ts): a sale → display round trip through a bare Aedes broker, a machine
// publishing QoS 1 and a responder answering it QoS 1, with Nagle's algorithm on and off on every
// socket. `npx tsx scripts/nodelay.ts [round trips]`; figures in docs/performance.md.

async function roundTrips(noDelay: boolean, count: number): Promise<number[]> {
  const broker = await Aedes.createBroker()
  const server = net.createServer({ noDelay }, broker.handle)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`
  const connect = async (clientId: string): Promise<MqttClient> => {
    const client = await mqtt.connectAsync(url, { clientId, protocolVersion: 4 })
    ;(client.stream as net.Socket).setNoDelay(noDelay)
    return client
  }
  const machine = await connect('machine')
  const responder = await connect('responder')
  await responder.subscribeAsync('sale', { qos: 1 })
  await machine.subscribeAsync('display', { qos: 1 })
  responder.on('message', (_topic, payload) => { responder.publish('display', payload, { qos: 1 }) })
  // A sale's size: a few hundred bytes of JSON.
  const sale = JSON.stringify({ v: 1, items: [{ sku: 'A12', name: 'x'.repeat(200), price: 12000, qty: 1 }] })
  const ms: number[] = []
  for (let i = 0; i < count; i++) {
    const start = performance.now()
    const answered = new Promise<void>((resolve) => machine.once('message', () => resolve()))
    machine.publish('sale', sale, { qos: 1 })
    await answered
    ms.push(performance.now() - start)
  }
  await Promise.all([machine.endAsync(), responder.endAsync()])
  await new Promise<void>((resolve) => broker.close(() => resolve()))
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return ms.sort((a, b) => a - b)
}

const count = Number(process.argv[2] ?? 300)
if (!Number.isInteger(count) || count < 10) {
  console.error(`round trips: a whole number of at least 10, got ${process.argv[2]}`)
  process.exit(2)
}
for (const round of [1, 2]) {
  for (const noDelay of [false, true]) {
    const ms = await roundTrips(noDelay, count)
    const at = (q: number) => ms[Math.floor(q * (ms.length - 1))]!.toFixed(2)
    console.log(`round ${round}, TCP_NODELAY ${noDelay ? 'on ' : 'off'}: p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, p99 ${at(0.99)} ms (${count} round trips)`)
  }
}
