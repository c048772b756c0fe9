import { findHolder } from '../../gateway/db/data-dir.lock.js'

// How `npm run sim` finds a running `npm start`: the rendezvous `npm run fleet` uses. The process
// that holds DATA_DIR's embedded database answers on the directory's lock with its ports
// (gateway/db/data-dir.lock.ts), the broker's among them.

/** The broker of the `npm start` that holds dataDir, or null when none runs there (or it has no broker). */
export async function findRunningDemo(dataDir: string): Promise<{ mqttUrl: string } | null> {
  const holder = await findHolder(dataDir).catch(() => null)
  return holder?.mqttPort !== undefined ? { mqttUrl: `mqtt://127.0.0.1:${holder.mqttPort}` } : null
}
