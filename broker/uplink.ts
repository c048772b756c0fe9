import type { Aedes, Client } from 'aedes'
import { parseMachineTopic } from '../protocol/index.js'

// What a machine sends (sales, status, telemetry) can be handed to the process that runs the broker
// instead of being routed to subscribers: that process stores it (ingest in the broker that holds
// the machine's connection), so each sale is written once however many gateways there are. The
// broker knows no business rule about it: it passes the message on and, for a sale, holds the
// machine's PUBACK until the process says it is done.

export interface UplinkHooks {
  /** A machine's sale, after the ACL and the rate limit. Call `done` once it is stored: its PUBACK waits for it. */
  sale(machineId: string, topic: string, payload: Buffer, done: () => void): void
  /**
   * A machine's status or telemetry, and its will (status offline) unless it has logged in on
   * another broker since: the broker it left does not report it offline.
   */
  presence(machineId: string, channel: 'status' | 'telemetry', payload: Buffer): void
  /** A machine's EVA-DTS audit (raw bytes); the process answers it on the machine's display topic. */
  audit(machineId: string, topic: string, payload: Buffer): void
}

const UPLINK = new Set(['sale', 'status', 'telemetry', 'audit'])

/** Machines' uplink messages are not routed (nobody subscribes to them); everything else is. */
export function keepUplinkLocal(aedes: Aedes, prefix: string): void {
  const mq = (aedes as unknown as { mq: { emit(packet: { topic: string }, done?: (err?: Error) => void): unknown } }).mq
  const emit = mq.emit.bind(mq)
  mq.emit = (packet, done) => {
    const parsed = parseMachineTopic(prefix, packet.topic)
    if (parsed && UPLINK.has(parsed.channel)) {
      done?.()
      return mq
    }
    return emit(packet, done)
  }
}

/**
 * Connections closed because their machine logged in on another broker. Aedes announces each login
 * on `$SYS/<broker>/new/clients` (through Redis to every broker) and closes its own connection of
 * the same client id; this listener runs in the same emit, before that connection's will.
 */
export function trackTakeovers(aedes: Aedes): WeakSet<Client> {
  const movedAway = new WeakSet<Client>()
  const internals = aedes as unknown as {
    clients: Record<string, Client | undefined>
    mq: { on(topic: string, listener: (packet: { topic: string; payload: Buffer }, done: () => void) => void): unknown }
  }
  const clients = internals.clients
  internals.mq.on('$SYS/+/new/clients', (packet, done) => {
    const brokerId = packet.topic.split('/')[1]
    const client = clients[packet.payload.toString()]
    if (client && brokerId !== aedes.id) movedAway.add(client)
    done()
  })
  return movedAway
}
