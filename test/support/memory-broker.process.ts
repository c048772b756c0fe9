import { pino } from 'pino'
import { createBroker } from '../../broker/broker.js'
import { BROKER_LIMIT_DEFAULTS } from '../../broker/config.js'
import { MemoryMachineDirectory } from '../../broker/machine-directory.memory.js'

// A broker on an in-memory directory as a process of its own, for tests that SIGKILL it:
// `node --import tsx memory-broker.process.ts '<json>'` with { redisUrl, ratePerS, rateBurst,
// machines: { id: secretHash } }; prints `{"port":N}` once it listens.

interface Options {
  redisUrl?: string
  ratePerS: number
  rateBurst: number
  machines: Record<string, string>
}

const options = JSON.parse(process.argv[2] ?? '{}') as Options
const directory = new MemoryMachineDirectory()
for (const [id, secretHash] of Object.entries(options.machines)) directory.put(id, { secretHash, disabled: false })
const broker = createBroker({
  config: {
    host: '127.0.0.1', port: 0, wsPort: undefined, tls: undefined, gatewayPassword: 'memory-broker-gateway',
    databaseUrl: undefined, topicPrefix: 'vending', logLevel: 'silent', credentialsPollMs: 60_000,
    limits: { ...BROKER_LIMIT_DEFAULTS, ratePerS: options.ratePerS, rateBurst: options.rateBurst },
    redisUrl: options.redisUrl,
  },
  directory,
  logger: pino({ level: 'silent' }),
})
const { port } = await broker.start()
process.stdout.write(`${JSON.stringify({ port })}\n`)
