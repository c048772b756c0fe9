// `npm run sim`: the simulator (device-sim/cli.ts), which uses a running `npm start`'s broker when
// no --url or MQTT_URL is given.
import { runSimCli } from '../device-sim/cli.js'
import { findRunningDemo } from './lib/running-demo.js'

process.exitCode = await runSimCli(process.argv.slice(2), findRunningDemo)
