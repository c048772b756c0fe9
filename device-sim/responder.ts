import { createHash, randomUUID } from 'node:crypto'
import type { Socket } from 'node:net'
import mqtt from 'mqtt'
import {
  DEFAULT_TOPIC_PREFIX,
  decodeSale,
  fleetFilter,
  formatReceiptQr,
  machineTopic,
  parseMachineTopic,
  type DisplayMessage,
  type SaleEvent,
} from '../protocol/index.js'

// The transport baseline: answers every sale with a receipt-shaped display message at once, with
// no database and no fiscal work. The benchmark runs the fleet against it to learn what MQTT alone
// costs; it is not a fake gateway and signs nothing.

/** An emulated-FN number: the 9999 range is reserved for test drives, so no inspector mistakes it. */
export const ECHO_FN = '9999000000000000'

export interface EchoResponderOptions {
  url: string
  prefix?: string
  username?: string
  password?: string
  /** Default `echo-responder-<random>`; behind this project's broker the service user needs `gateway-…`. */
  clientId?: string
  /** Return false to drop this copy of a sale unanswered; `copy` counts from 1 per (machine, saleId). */
  shouldAnswer?: (machineId: string, saleId: string, copy: number) => boolean
}

export interface EchoResponderStats {
  /** Sale messages received, copies included. */
  received: number
  answered: number
  dropped: number
  /** Payloads that failed `SaleEvent` validation; answered `rejected` when their saleId was readable. */
  invalid: number
}

export interface EchoResponder {
  stats(): EchoResponderStats
  close(): Promise<void>
}

/** Connects, subscribes to every machine's `sale`, and resolves once the subscription is granted. */
export async function createEchoResponder(options: EchoResponderOptions): Promise<EchoResponder> {
  const prefix = options.prefix ?? DEFAULT_TOPIC_PREFIX
  const client = await mqtt.connectAsync(options.url, {
    clientId: options.clientId ?? `echo-responder-${randomUUID().slice(0, 8)}`,
    protocolVersion: 4,
    ...(options.username !== undefined && { username: options.username }),
    ...(options.password !== undefined && { password: options.password }),
  })
  ;(client.stream as Partial<Socket>).setNoDelay?.(true)
  const stats: EchoResponderStats = { received: 0, answered: 0, dropped: 0, invalid: 0 }
  // mqtt.js reconnects by itself; an 'error' without a listener would throw.
  client.on('error', () => undefined)
  // Per sale: the fiscal document number it got, so a repeat gets the same receipt, and, only when
  // copies may be dropped, how many copies came (about 60 bytes per sale in memory).
  const copies = new Map<string, number>()
  const documents = new Map<string, number>()
  let nextFd = 1

  client.on('message', (topic, payload) => {
    const parsed = parseMachineTopic(prefix, topic)
    if (!parsed || parsed.channel !== 'sale') return
    stats.received += 1
    const decoded = decodeSale(payload)
    if (!decoded.ok) {
      stats.invalid += 1
      if (decoded.saleId !== undefined) {
        publish(parsed.machineId, { v: 1, type: 'rejected', saleId: decoded.saleId, reason: decoded.reason })
      }
      return
    }
    const sale = decoded.value
    const key = `${parsed.machineId}/${sale.saleId}`
    if (options.shouldAnswer) {
      const copy = (copies.get(key) ?? 0) + 1
      copies.set(key, copy)
      if (!options.shouldAnswer(parsed.machineId, sale.saleId, copy)) {
        stats.dropped += 1
        return
      }
    }
    let fd = documents.get(key)
    if (fd === undefined) {
      fd = nextFd++
      documents.set(key, fd)
    }
    publish(parsed.machineId, echoReceipt(sale, fd))
  })

  function publish(machineId: string, message: DisplayMessage): void {
    stats.answered += 1
    client.publish(machineTopic(prefix, machineId, 'display'), JSON.stringify(message), { qos: 1 }, () => undefined)
  }

  await client.subscribeAsync(fleetFilter(prefix, 'sale'), { qos: 1 })
  return {
    stats: () => ({ ...stats }),
    close: () => client.endAsync(),
  }
}

/**
 * A receipt-shaped answer that depends only on the sale and its document number, so repeats are
 * identical: `t` is the sale's own time in Moscow (UTC+3, no DST since 2014), the fiscal sign a
 * hash of the document's identity.
 */
export function echoReceipt(sale: SaleEvent, fd: number): DisplayMessage {
  const moscow = new Date(Date.parse(sale.at) + 3 * 3_600_000).toISOString() // "2026-11-28T15:21:05.123Z"
  const t = `${moscow.slice(0, 4)}${moscow.slice(5, 7)}${moscow.slice(8, 10)}T${moscow.slice(11, 13)}${moscow.slice(14, 16)}`
  const fp = String(createHash('sha256').update(`${ECHO_FN}/${fd}`).digest().readUInt32BE(0))
  const n = sale.kind === 'refund' ? 2 : 1 // tag 1054: 1 приход, 2 возврат прихода
  return {
    v: 1,
    type: 'receipt',
    saleId: sale.saleId,
    qr: formatReceiptQr({ t, s: sale.payment.amount, fn: ECHO_FN, i: fd, fp, n }),
    url: `http://localhost:8080/r/${ECHO_FN}/${fd}?fp=${fp}`,
    fiscal: {
      fn: ECHO_FN,
      fd,
      fp,
      shift: 1,
      receiptInShift: fd,
      at: `${moscow.slice(0, 19)}+03:00`,
      total: sale.payment.amount,
      kind: sale.kind,
    },
  }
}
