// Broker and gateway in one process on embedded PGlite, for the benchmark without DATABASE_URL:
// PGlite is one process's database and the broker reads machines' credentials from it, so the two
// cannot be separate processes (as `npm start`, without the demo fleet). The broker starts at once
// (`broker ready <port>`), the gateway when the parent sends 'start-gateway' (`gateway ready`), so
// the echo baseline runs on the same broker first. Env: DATA_DIR, MQTT_PORT, HTTP_PORT, and the
// broker's and gateway's usual variables.
import type { Kysely } from 'kysely'
import { createBroker } from '../../broker/broker.js'
import { loadBrokerConfig } from '../../broker/config.js'
import { createMachineDirectoryRepository, type BrokerDatabase } from '../../broker/machine-directory.repository.js'
import { loadGatewayConfig } from '../../gateway/config.js'
import { openDatabase } from '../../gateway/db/database.js'
import { createGateway, type Gateway } from '../../gateway/gateway.js'
import { createLogger } from '../../gateway/logger.js'

const brokerConfig = loadBrokerConfig(process.env)
const gatewayConfig = loadGatewayConfig(process.env)
const logger = createLogger({ level: gatewayConfig.logLevel })
const database = await openDatabase({ url: undefined, dataDir: gatewayConfig.dataDir })
const broker = createBroker({ config: brokerConfig, directory: createMachineDirectoryRepository(database.db as Kysely<any> as Kysely<BrokerDatabase>), logger })
const { port } = await broker.start()
process.stdout.write(`broker ready ${port}\n`)

let gateway: Gateway | null = null
process.on('message', (message) => {
  if (message !== 'start-gateway' || gateway) return
  gateway = createGateway({ config: Object.freeze({ ...gatewayConfig, mqttUrl: `mqtt://127.0.0.1:${port}` }), database, logger })
  gateway.start().then(
    () => process.stdout.write('gateway ready\n'),
    (err: unknown) => { process.stderr.write(`gateway failed to start: ${String(err)}\n`); process.exit(1) },
  )
})

process.once('SIGTERM', () => {
  process.disconnect?.()
  void (async () => {
    await gateway?.stop()
    await broker.stop()
    await database.close()
    process.exit(0)
  })()
})
