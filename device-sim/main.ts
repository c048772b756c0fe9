// `tsx device-sim/main.ts`: the simulator on its own, against --url or MQTT_URL. `npm run sim`
// (scripts/sim.ts) is the same and also finds a running `npm start` by itself.
import { runSimCli } from './cli.js'

process.exitCode = await runSimCli(process.argv.slice(2))
