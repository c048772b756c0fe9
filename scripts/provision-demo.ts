// `npm run demo:provision -- --machines N --out fleet.json`: the demo kassa and N machines in the
// configured database (idempotent: existing machines get fresh secrets), credentials written for the sim.
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { ConfigError, loadGatewayConfig, loadMachineSecretKey } from '../gateway/config.js'
import { openDatabase } from '../gateway/db/database.js'
import { embeddedServerUrl } from '../gateway/db/embedded-server.js'
import { migrateToLatest } from '../gateway/db/migrate.js'
import { provisionDemo } from './demo-fleet.js'

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { machines: { type: 'string', default: '5' }, out: { type: 'string' } } })
  const count = Number(values.machines)
  if (!Number.isInteger(count) || count < 1 || count > 100_000) throw new ConfigError(['--machines: must be a whole number from 1 to 100000'])
  if (!values.out) throw new ConfigError(['--out: the file to write the credentials to is required'])
  const config = loadGatewayConfig()
  const machineSecretKey = loadMachineSecretKey()
  const database = await openDatabase({ url: config.databaseUrl ?? (await embeddedServerUrl(config.dataDir)) ?? undefined, dataDir: config.dataDir, poolSize: 1, prepare: false, role: 'npm run demo:provision' })
  try {
    await migrateToLatest(database.db)
    const machines = await provisionDemo(database.db, count, { machineSecretKey })
    writeFileSync(values.out, JSON.stringify(machines, null, 2), { mode: 0o600 })
    process.stdout.write(`${JSON.stringify({ machines: machines.length, out: values.out })}\n`)
  } finally {
    await database.close()
  }
}

main().catch((err) => {
  process.stderr.write(`demo:provision: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1)
})
