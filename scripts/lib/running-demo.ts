import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { embeddedServerUrl } from '../../gateway/db/embedded-server.js'

// How `npm run sim` finds a running `npm start`: the rendezvous `npm run fleet` uses (the process
// that holds DATA_DIR's embedded database), plus the broker URL it announces beside it.
const NOTE = '.demo-broker.json'

/** Written by `npm start` once its broker listens; the returned function removes it. */
export function announceDemoBroker(dataDir: string, mqttUrl: string): () => void {
  writeFileSync(join(dataDir, NOTE), JSON.stringify({ pid: process.pid, mqttUrl }))
  return () => rmSync(join(dataDir, NOTE), { force: true })
}

/** The broker of the `npm start` that holds dataDir, or null when none runs there. */
export function findRunningDemo(dataDir: string): { mqttUrl: string } | null {
  if (embeddedServerUrl(dataDir) === null) return null
  try {
    const note = JSON.parse(readFileSync(join(dataDir, NOTE), 'utf8')) as { mqttUrl?: unknown }
    return typeof note.mqttUrl === 'string' ? { mqttUrl: note.mqttUrl } : null
  } catch {
    return null
  }
}
