// `npm run fleet -- <command> [--option value …]`: provisioning and checks. One JSON object on
// stdout; errors on stderr with a non-zero exit status.
import { ConfigError, loadGatewayConfig, loadMachineSecretKey } from '../config.js'
import { openDatabase } from '../db/database.js'
import { embeddedServerUrl } from '../db/embedded-server.js'
import { migrateToLatest } from '../db/migrate.js'
import { parseFleetArgs, UsageError } from './fleet.args.js'
import { runFleetCommand } from './fleet.commands.js'
import { FleetError } from './fleet.repository.js'

async function main(): Promise<number> {
  const { command, args } = parseFleetArgs(process.argv.slice(2))
  const config = loadGatewayConfig()
  const machineSecretKey = loadMachineSecretKey()
  // While `npm start` holds the embedded database, go through it rather than open its files twice.
  const url = config.databaseUrl ?? embeddedServerUrl(config.dataDir) ?? undefined
  const database = await openDatabase({ url, dataDir: config.dataDir, poolSize: 1, prepare: false })
  try {
    await migrateToLatest(database.db)
    const result = await runFleetCommand(database.db, command, args, new Date(), { machineSecretKey, providerSecret: config.providerSecret })
    process.stdout.write(`${JSON.stringify(result.output)}\n`)
    return result.exitCode
  } finally {
    await database.close()
  }
}

main().then((code) => process.exit(code), (err: unknown) => {
  if (err instanceof UsageError || err instanceof FleetError || err instanceof ConfigError) {
    process.stderr.write(`fleet: ${err.message}\n`)
    process.exit(err instanceof UsageError || err instanceof ConfigError ? 2 : 1)
  }
  process.stderr.write(`fleet: ${err instanceof Error ? err.stack : String(err)}\n`)
  process.exit(1)
})
