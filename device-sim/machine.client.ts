import type { Socket } from 'node:net'
import mqtt, { type MqttClient } from 'mqtt'
import { createHash } from 'node:crypto'
import {
  DEFAULT_TOPIC_PREFIX,
  MachineDisplaySchema,
  machineTopic,
  type AuditDisplay,
  type SaleEvent,
  type Status,
  type Telemetry,
} from '../protocol/index.js'
import { AuditCounters } from './audit-counters.js'
import { MachineState, type DisplayOutcome, type PendingSale, type RetryPolicy } from './machine.js'
import type { StoredSale } from './state-file.js'

/** ms with µs resolution on an epoch base, so latencies below a millisecond are measured too. */
export const preciseClock = (): number => performance.timeOrigin + performance.now()

export interface SimMachineOptions {
  /** A broker URL, or several separated by commas: the machine starts on one (by its id) and tries the next when it loses it. */
  url: string
  id: string
  /** The machine's password; empty for brokers without authentication. */
  secret: string
  prefix?: string
  keepaliveS?: number
  connectTimeoutMs?: number
  /** ms between reconnect attempts; the fleet spreads it per machine so reconnects do not come in waves. */
  reconnectPeriodMs?: number
  retry?: RetryPolicy
  clock?: () => number
  random?: () => number
  /** A display message for this machine, classified. */
  onOutcome?: (outcome: DisplayOutcome, machine: SimMachine) => void
  /** A copy of a sale went out. */
  onSent?: (kind: 'first' | 'republish', sale: Readonly<PendingSale>, machine: SimMachine) => void
  /** ms before an unanswered audit is uploaded again; default 5000. */
  auditRetryMs?: number
  /** The gateway answered an audit this machine uploaded. */
  onAudit?: (answer: AuditDisplay, machine: SimMachine) => void
  /** A display message that is not a valid `DisplayMessage`. */
  onInvalidDisplay?: (reason: string, machine: SimMachine) => void
  /** The link's life: a connection attempt, logged in, lost (after being up or not), an error's message. */
  onLink?: (event: LinkEvent, machine: SimMachine) => void
}

export type LinkEvent =
  | { kind: 'attempt' }
  | { kind: 'up' }
  | { kind: 'down'; wasUp: boolean }
  | { kind: 'error'; message: string }

/** ms before an unanswered audit is uploaded again. */
const AUDIT_RETRY_MS = 5_000

/**
 * The brokers of a comma-separated list, starting with the machine's own (a stable hash of its id,
 * so a fleet spreads evenly): mqtt.js moves to the next one at each reconnect.
 */
/** Which of `count` brokers a machine tries first. */
export function firstBroker(id: string, count: number): number {
  let hash = 0
  for (const ch of id) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0
  return hash % count
}

function brokerServers(list: string, id: string) {
  const urls = list.split(',')
  const first = firstBroker(id, urls.length)
  return [...urls.slice(first), ...urls.slice(0, first)].map((url) => {
    const u = new URL(url)
    const protocol = u.protocol.slice(0, -1) as 'mqtt' | 'mqtts' | 'tcp'
    return { url, server: { host: u.hostname, port: Number(u.port || (protocol === 'mqtts' ? 8883 : 1883)), protocol } }
  })
}

/** One simulated vending machine on its own MQTT connection (MQTT 3.1.1, client id = username = machine id). */
export class SimMachine {
  readonly id: string
  readonly state: MachineState
  /** Its own EVA-DTS counters: every vend, published or not. */
  readonly counters: AuditCounters
  /** Audits uploaded and not yet answered, by SHA-256: republished until their answer comes, as sales are. */
  readonly #audits = new Map<string, { bytes: Uint8Array; nextAt: number }>()
  /** The last connection error, kept for the report; a machine keeps reconnecting unless refused. */
  lastError: Error | null = null
  /** The broker refused the login (CONNACK 4 or 5): the machine gives up. */
  refused = false
  everConnected = false
  readonly #options: SimMachineOptions
  readonly #prefix: string
  readonly #clock: () => number
  #client: MqttClient | null = null
  #ready = false

  constructor(options: SimMachineOptions) {
    this.#options = options
    this.id = options.id
    this.#prefix = options.prefix ?? DEFAULT_TOPIC_PREFIX
    this.#clock = options.clock ?? preciseClock
    this.counters = new AuditCounters({ machineId: options.id })
    this.state = new MachineState({
      ...(options.retry && { retry: options.retry }),
      ...(options.random && { random: options.random }),
    })
  }

  /** Connected and subscribed to its display topic. */
  get connected(): boolean {
    return this.#ready && this.#client?.connected === true
  }

  /** Connects; resolves once subscribed to `display`, rejects on the first connection error (it keeps retrying unless refused). */
  start(): Promise<void> {
    if (this.#client) throw new Error(`machine ${this.id} already started`)
    const o = this.#options
    const client = mqtt.connect(brokerServers(o.url, this.id)[0]!.url, {
      ...(o.url.includes(',') && { servers: brokerServers(o.url, this.id).map((b) => b.server) }),
      clientId: this.id,
      username: this.id,
      password: o.secret,
      protocolVersion: 4, // Aedes 1.x speaks MQTT 3.1.1 only
      clean: true, // store-and-forward is the machine's job, not the broker's session
      keepalive: o.keepaliveS ?? 60,
      connectTimeout: o.connectTimeoutMs ?? 10_000,
      reconnectPeriod: o.reconnectPeriodMs ?? 1_000,
      reconnectOnConnackError: true, // CONNACK 3 (server unavailable) is worth retrying; the rest end below
      will: { topic: this.#topic('status'), payload: this.#status('offline'), qos: 1, retain: true },
    })
    this.#client = client
    const basePeriodMs = o.reconnectPeriodMs ?? 1_000
    let attempts = 0
    const link = (event: LinkEvent) => o.onLink?.(event, this)
    link({ kind: 'attempt' })
    client.on('reconnect', () => {
      link({ kind: 'attempt' })
      // A will is fixed at CONNECT; refresh its time so "offline" is dated no earlier than the last connection.
      if (client.options.will) client.options.will.payload = this.#status('offline')
      // mqtt.js retries at a fixed period; a broker that restarts under thousands of machines all
      // retrying every second never catches up (seen here: 10,000 machines, connack timeouts feeding
      // more attempts). So the wait after each failed attempt doubles, up to 30 s, jittered.
      attempts += 1
      client.options.reconnectPeriod = Math.min(30_000, basePeriodMs * 2 ** Math.min(attempts, 5)) * (0.5 + Math.random() / 2)
    })
    client.on('message', (topic, payload) => this.#onMessage(topic, payload))
    return new Promise<void>((resolve, reject) => {
      let settled = false
      const settle = (err?: Error) => {
        if (settled) return
        settled = true
        if (err) reject(err)
        else resolve()
      }
      client.on('connect', () => {
        link({ kind: 'up' })
        attempts = 0
        client.options.reconnectPeriod = basePeriodMs
        // TCP_NODELAY: without it a sale → display round trip waits on Nagle (42 ms vs 0.4 ms median).
        ;(client.stream as Partial<Socket>).setNoDelay?.(true)
        client.publish(this.#topic('status'), this.#status('online'), { qos: 1, retain: true }, () => undefined)
        // mqtt.js resubscribes by itself after a reconnect; the first subscription is ours.
        if (this.everConnected) {
          this.#ready = true
          return
        }
        client.subscribe(this.#topic('display'), { qos: 1 }, (err, granted) => {
          const failed = err ?? (granted?.[0]?.qos === 128 ? new Error(`subscription to ${this.#topic('display')} refused`) : null)
          if (failed) {
            this.lastError = failed
            return settle(failed)
          }
          this.#ready = true
          this.everConnected = true
          this.#sendDue(this.#clock()) // sales taken while it was connecting
          this.#sendAudits(this.#clock())
          settle()
        })
      })
      client.on('close', () => {
        link({ kind: 'down', wasUp: this.#ready })
        this.#ready = false
      })
      client.on('error', (err) => {
        link({ kind: 'error', message: err.message })
        this.lastError = err
        // A CONNACK refusal (numeric code) is final unless the server was only unavailable (3).
        const code = (err as { code?: unknown }).code
        if (typeof code === 'number' && code !== 3) {
          this.refused = true
          client.end(true)
        }
        settle(err)
      })
    })
  }

  /** A customer paid: the sale is kept until answered and sent now if connected. */
  sell(sale: SaleEvent): void {
    const now = this.#clock()
    this.counters.record(sale.items, sale.payment.method)
    const pending = this.state.add(sale.saleId, JSON.stringify(sale), now)
    if (this.connected) this.#send(pending, now)
  }

  /**
   * A vend made while the machine could not (or did not) report it: counted in its audit, the sale
   * never published. What a cash vend during a link outage or a firmware fault looks like.
   */
  sellOffline(sale: SaleEvent): void {
    this.counters.record(sale.items, sale.payment.method)
  }

  /** Audits waiting for their answer. */
  get pendingAudits(): number {
    return this.#audits.size
  }

  /** Reads the counters into an audit and uploads it (now if connected, else at the next tick); returns its SHA-256. */
  uploadAudit(now = this.#clock()): string {
    const bytes = this.counters.render(new Date(now))
    const hash = createHash('sha256').update(bytes).digest('hex')
    this.#audits.set(hash, { bytes, nextAt: now })
    if (this.connected) this.#sendAudits(now)
    return hash
  }

  #sendAudits(now: number): void {
    for (const audit of this.#audits.values()) {
      if (audit.nextAt > now) continue
      audit.nextAt = now + (this.#options.auditRetryMs ?? AUDIT_RETRY_MS)
      this.#client?.publish(this.#topic('audit'), Buffer.from(audit.bytes), { qos: 1 }, () => undefined)
    }
  }

  /** Takes back sales from a state file; they go out at the next tick once connected. */
  restore(sales: readonly StoredSale[]): void {
    this.state.restore(sales, this.#clock())
  }

  /** Sends every copy that is due; call it a few times a second. Returns how many went out. */
  tick(now = this.#clock()): number {
    if (!this.connected) return 0
    if (this.#audits.size > 0) this.#sendAudits(now)
    return this.#sendDue(now)
  }

  /** Telemetry is QoS 0: losing a reading costs nothing, the next one replaces it. */
  publishTelemetry(telemetry: Omit<Telemetry, 'v' | 'at'>): void {
    if (!this.connected) return
    const message: Telemetry = { v: 1, at: new Date().toISOString(), ...telemetry }
    this.#client?.publish(this.#topic('telemetry'), JSON.stringify(message), { qos: 0 })
  }

  /** A clean shutdown: "offline" retained, then DISCONNECT (the broker drops the will). */
  async stop(timeoutMs = 2_000): Promise<void> {
    const client = this.#client
    if (!client) return
    this.#ready = false
    if (!client.connected) return this.#end(client, true)
    const offline = new Promise<void>((resolve) =>
      client.publish(this.#topic('status'), this.#status('offline'), { qos: 1, retain: true }, () => resolve()),
    )
    const clean = offline.then(() => this.#end(client, false))
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)))
    const result = await Promise.race([clean, late])
    clearTimeout(timer)
    if (result === 'late') await this.#end(client, true)
  }

  /** A power cut: the socket dies without DISCONNECT, so the broker publishes the will. */
  async kill(): Promise<void> {
    const client = this.#client
    this.#ready = false
    if (client) await this.#end(client, true)
  }

  #end(client: MqttClient, force: boolean): Promise<void> {
    return new Promise((resolve) => client.end(force, {}, () => resolve()))
  }

  #sendDue(now: number): number {
    let sent = 0
    for (const sale of this.state.due(now)) {
      this.#send(sale, now)
      sent += 1
    }
    return sent
  }

  #send(sale: Readonly<PendingSale>, now: number): void {
    // A failed publish needs no handling: the sale stays pending and is sent again when due.
    this.#client?.publish(this.#topic('sale'), sale.payload, { qos: 1 }, () => undefined)
    const kind = this.state.markSent(sale.saleId, now)
    if (kind) this.#options.onSent?.(kind, sale, this)
  }

  #onMessage(topic: string, payload: Buffer): void {
    if (topic !== this.#topic('display')) return
    let json: unknown
    try {
      json = JSON.parse(payload.toString('utf8'))
    } catch {
      this.#options.onInvalidDisplay?.('display message is not JSON', this)
      return
    }
    const parsed = MachineDisplaySchema.safeParse(json)
    if (!parsed.success) {
      this.#options.onInvalidDisplay?.(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), this)
      return
    }
    const message = parsed.data
    if (message.type === 'audit') {
      if (this.#audits.delete(message.hash)) this.#options.onAudit?.(message, this)
      return
    }
    this.#options.onOutcome?.(this.state.onDisplay(message, this.#clock()), this)
  }

  #topic(channel: 'sale' | 'telemetry' | 'status' | 'display' | 'audit'): string {
    return machineTopic(this.#prefix, this.id, channel)
  }

  #status(state: Status['state']): string {
    const status: Status = { v: 1, state, at: new Date().toISOString() }
    return JSON.stringify(status)
  }
}
