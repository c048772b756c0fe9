import type { FleetReport } from './fleet.js'

// Plain answers to "why did nothing come back?": which broker the simulator reached and how it
// found it, and what the broker's silence or refusal means. Pure: main.ts prints them.

export type BrokerSource = 'flag' | 'env' | 'demo' | 'default'

export interface BrokerChoice { url: string; source: BrokerSource; dataDir: string }

const HOW: Record<BrokerSource, string> = {
  flag: 'given by --url',
  env: 'from MQTT_URL',
  demo: 'the running npm start found in DATA_DIR',
  default: 'the default: no --url, no MQTT_URL, no running npm start in DATA_DIR',
}

export function describeBroker(b: BrokerChoice): string {
  return `broker ${b.url} (${b.source === 'demo' || b.source === 'default' ? HOW[b.source].replace('DATA_DIR', b.dataDir) : HOW[b.source]})`
}

const PROVISION = 'provision machines with npm run fleet -- import machines.csv (or add-machine) and pass --credentials machines.credentials.json'

/** Why no machine connected, from the connection errors (mqtt.js messages and CONNACK codes). */
export function explainNoConnection(b: BrokerChoice, reasons: readonly string[], withCredentials: boolean): string {
  const all = reasons.join('; ')
  if (/not authori[sz]ed|bad user ?name or password/i.test(all)) {
    return `${describeBroker(b)} refused the machines' logins (CONNACK 5, not authorized): ` +
      (withCredentials ? 'the secrets in --credentials are not the ones this broker knows (rotated? another database?)' : `machines log in with the secret issued when they are provisioned: ${PROVISION}`)
  }
  if (/ECONNREFUSED/.test(all)) return `nothing listens at ${b.url} (${all}; ${HOW[b.source]}): start npm start, or point --url or MQTT_URL at the gateway's broker`
  if (/unavailable/i.test(all)) return `${describeBroker(b)} is full or cannot check logins (CONNACK 3): try again, or fewer machines`
  return `no machine could connect to ${describeBroker(b)}: ${all || 'no answer'}`
}

/** Why sales went unanswered on a broker that let the machines in; null when answers came. */
export function explainSilence(b: BrokerChoice, report: Pick<FleetReport, 'connected' | 'sent' | 'receipted' | 'rejected'>, waitedS: number, withCredentials: boolean): string | null {
  if (report.connected === 0 || report.sent === 0 || report.receipted + report.rejected > 0) return null
  const anonymous = withCredentials ? '' :
    ' It let in machines without secrets, so it is not this project\'s broker (which admits provisioned machines only); a broker that accepts any login is often Mosquitto on 1883.'
  return `connected to ${describeBroker(b)}, but no display message came back within ${waitedS} s for ${report.sent} sales: no gateway answers on this broker.${anonymous} ` +
    `Point --url at the gateway's broker (npm start prints it) or start the gateway.`
}
