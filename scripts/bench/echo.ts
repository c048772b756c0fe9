// The transport baseline as its own process, like the gateway it stands in for: the echo
// responder (device-sim/responder.ts) answers every sale at once, with no database and no signing.
// Env: MQTT_URL, GATEWAY_MQTT_PASSWORD. Prints `echo ready` once subscribed.
import { createEchoResponder } from '../../device-sim/responder.js'

const responder = await createEchoResponder({
  url: process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883',
  username: 'gateway', // the broker lets only the service user read every machine's sales
  password: process.env.GATEWAY_MQTT_PASSWORD ?? 'gateway-dev-password',
  clientId: 'gateway-bench-echo', // service client ids start with `gateway`
})
process.stdout.write('echo ready\n')
process.once('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify({ echo: responder.stats() })}\n`)
  void responder.close().finally(() => process.exit(0))
})
