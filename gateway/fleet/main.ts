// `npm run fleet -- <command> [--option value …]`: provisioning and checks. Readable text on a
// terminal, one JSON object on stdout when piped or with --json; errors on stderr, one line, with
// a non-zero exit status.
import { ConfigError, loadGatewayConfig, wantsStacks, loadMachineSecretKey } from '../config.js'
import { openDatabase } from '../db/database.js'
import { dataDirFailureLine } from '../db/data-dir.messages.js'
import { embeddedServerUrl } from '../db/embedded-server.js'
import { describeStartFailure } from '../../protocol/start-failure.js'
import { migrateToLatest } from '../db/migrate.js'
import { FLEET_COMMANDS, parseCommandLine, UsageError } from './fleet.args.js'
import { runFleetCommand } from './fleet.commands.js'
import { commandHelp, toolHelp } from './fleet.help.js'
import { formatHuman } from './fleet.output.js'
import { FleetError } from './fleet.repository.js'

async function main(): Promise<number> {
  const line = parseCommandLine(process.argv.slice(2))
  if (line.help) {
    await new Promise((resolve) => process.stdout.write(`${line.command ? commandHelp(line.command) : toolHelp()}\n`, resolve))
    return 0
  }
  const config = loadGatewayConfig()
  // While another process holds the embedded database, go through it rather than open its files
  // twice; refused (DataDirBusyError) when it does not serve them.
  const machineSecretKey = loadMachineSecretKey()
  const url = config.databaseUrl ?? (await embeddedServerUrl(config.dataDir)) ?? undefined
  const database = await openDatabase({ url, dataDir: config.dataDir, poolSize: 1, prepare: false, role: 'npm run fleet' })
  try {
    await migrateToLatest(database.db)
    const result = await runFleetCommand(database.db, line.command, line.args, new Date(), { machineSecretKey, providerSecret: config.providerSecret })
    const json = line.json || !process.stdout.isTTY
    // Written before exiting: process.exit() would cut a large answer to a pipe short at 64 KiB.
    await new Promise<void>((resolve, reject) => process.stdout.write(`${json ? JSON.stringify(result.output) : formatHuman(line.command, result.output)}\n`, (err) => (err ? reject(err) : resolve())))
    return result.exitCode
  } finally {
    await database.close()
  }
}

main().then((code) => process.exit(code), (err: unknown) => {
  const dataDirLine = dataDirFailureLine(err, 'npm start -- --fresh')
  if (dataDirLine) {
    process.stderr.write(`fleet: ${dataDirLine}\n`)
    process.exit(1)
  }
  if (err instanceof UsageError || err instanceof FleetError || err instanceof ConfigError) {
    const command = FLEET_COMMANDS.find((c) => c === process.argv[2])
    const hint = err instanceof UsageError ? `\n(npm run fleet -- ${command ? `${command} --help lists its options` : '--help lists the commands'})` : ''
    process.stderr.write(`fleet: ${err.message}${hint}\n`)
    process.exit(err instanceof UsageError || err instanceof ConfigError ? 2 : 1)
  }
  process.stderr.write(`fleet: ${describeStartFailure(err, { debug: wantsStacks(), advice: { refused: 'is PostgreSQL running there? Check DATABASE_URL (unset, the CLI uses the embedded database in DATA_DIR)' } }).replace(/^cannot start: /, '')}\n`)
  process.exit(1)
})
