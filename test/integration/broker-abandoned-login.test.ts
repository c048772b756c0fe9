import { connect, type Socket } from 'node:net'
import mqtt, { type MqttClient } from 'mqtt'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBroker, type Broker } from '../../broker/broker.js'
import { BROKER_LIMIT_DEFAULTS } from '../../broker/config.js'
import { MemoryMachineDirectory } from '../../broker/machine-directory.memory.js'
import { DEV_MACHINE_SECRET_KEY, keyedSecretHash, newSecret } from '../../protocol/index.js'
import { connectPacket, rawLogin } from '../support/mqtt-raw.js'
import { waitFor } from '../support/wait.js'

// A machine that gave up waiting for CONNACK closes its socket and logs in again on a new one. A
// broker that takes the old socket late (after a restart under thousands of machines, the kernel
// hands such connections over up to a minute later) reads its CONNECT and then its end. That login
// must not take over the machine's live connection (MQTT-3.1.4-2): it did, and machines that were
// back dropped again (README.md#reconnect-storm).

const secret = newSecret()
let broker: Broker
let port: number
let live: MqttClient

beforeAll(async () => {
  const directory = new MemoryMachineDirectory()
  directory.put('VM-A', { secretHash: keyedSecretHash(secret, DEV_MACHINE_SECRET_KEY), disabled: false })
  broker = createBroker({
    config: {
      host: '127.0.0.1', port: 0, wsPort: undefined, tls: undefined, gatewayPassword: 'abandoned-test-gateway',
      databaseUrl: undefined, topicPrefix: 'vending', logLevel: 'silent', limits: { ...BROKER_LIMIT_DEFAULTS }, credentialsPollMs: 1_000,
    },
    directory,
    logger: pino({ level: 'silent' }),
  })
  ;({ port } = await broker.start())
})

afterAll(async () => {
  await live?.endAsync(true)
  await broker?.stop()
})

/** A CONNECT and the socket's end in one go: what the broker reads from an abandoned attempt. */
function abandonedLogin(): Promise<void> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1')
    socket.on('error', () => {})
    socket.on('connect', () => socket.end(connectPacket('VM-A', 'VM-A', secret)))
    socket.on('close', () => resolve())
  })
}

describe('a login whose client has already gone', () => {
  it('does not take over the machine\'s live connection', async () => {
    live = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'VM-A', username: 'VM-A', password: secret, reconnectPeriod: 0 })
    const closed = new Promise<'closed'>((resolve) => live.once('close', () => resolve('closed')))
    await Promise.all(Array.from({ length: 5 }, abandonedLogin))
    // The live connection still answers: a round trip on it after the abandoned logins were read.
    const outcome = await Promise.race([live.subscribeAsync('vending/VM-A/display', { qos: 1 }).then((granted) => granted[0]?.qos), closed])
    expect(outcome).toBe(1)
    expect(broker.stats()).toMatchObject({ machines: 1, connections: 1 })
  })

  it('still lets a new connection of the machine take over an old one that is alive', async () => {
    // A machine that lost its link without the broker noticing logs in again: the new login wins.
    let closed = false
    live.on('close', () => { closed = true })
    const raw = await rawLogin(port, connectPacket('VM-A', 'VM-A', secret))
    expect(raw.code).toBe(0)
    await waitFor(() => closed, 'the old connection to be closed by the new login')
  })
})
