import { DEFAULT_TOPIC_PREFIX, isMachineId } from '../protocol/index.js'
import { createSaleGenerator, DEFAULT_CATALOGUE } from './catalogue.js'
import { FleetCounters, type FleetReport, type FleetSnapshot } from './fleet-report.js'
import type { FleetOptions } from './fleet.js'
import { DEFAULT_RETRY, type DisplayOutcome } from './machine.js'
import { preciseClock, SimMachine } from './machine.client.js'
import { offlinePlan } from './offline-plan.js'
import { pick, seededRandom, type Random } from './random.js'
import { createStateWriter, readStateFile, type StateWriter, type StoredSale } from './state-file.js'

// One run of a fleet: restore → connect at the ramp rate → sell on an open-loop schedule →
// drain → close. Republishing and telemetry run on one shared tick, not a timer per machine,
// so that 10,000 machines cost one timer.

const TICK_MS = 100 // republish and telemetry granularity

export class FleetRun {
  #phase: FleetSnapshot['phase'] = 'connecting'
  readonly #o: FleetOptions
  readonly #counters = new FleetCounters()
  readonly #machines: SimMachine[]
  readonly #random: Random
  readonly #startedAt = preciseClock()
  #eligible: SimMachine[] = []
  #inFlight = 0
  #salesStartedAt = 0
  #salesEndedAt = 0
  #stopping = false
  #aborted = false
  #wakeup: (() => void) | null = null
  #halt: () => void = () => undefined
  readonly #halted = new Promise<void>((resolve) => (this.#halt = resolve))
  #timers: NodeJS.Timeout[] = []
  #state: StateWriter | null = null
  #progressAt = { at: this.#startedAt, sent: 0 }
  readonly #cashBox = new Map<string, number>() // kopecks taken in cash, for telemetry

  constructor(options: FleetOptions) {
    this.#o = options
    const ids = new Set<string>()
    for (const m of options.machines) {
      if (!isMachineId(m.id)) throw new Error(`machine id ${JSON.stringify(m.id)} is not 1–64 of [A-Za-z0-9_-]`)
      if (ids.has(m.id)) throw new Error(`machine id ${m.id} appears twice`)
      ids.add(m.id)
    }
    if (!(options.rate >= 0) || !(options.durationS >= 0)) throw new Error('rate and durationS must be ≥ 0')
    this.#random = options.seed === undefined ? Math.random : seededRandom(options.seed)
    const retry = { ...DEFAULT_RETRY, ...options.retry }
    this.#machines = options.machines.map(
      (m) =>
        new SimMachine({
          url: options.url,
          id: m.id,
          secret: m.secret,
          prefix: options.prefix ?? DEFAULT_TOPIC_PREFIX,
          retry,
          ...(options.keepaliveS !== undefined && { keepaliveS: options.keepaliveS }),
          ...(options.connectTimeoutMs !== undefined && { connectTimeoutMs: options.connectTimeoutMs }),
          // Spread over 1–5 periods so that a broker restart is not answered by every machine at once.
          reconnectPeriodMs: Math.round((options.reconnectPeriodMs ?? 1_000) * (1 + Math.random() * 4)),
          onOutcome: (outcome, machine) => this.#onOutcome(outcome, machine),
          onSent: (kind) => {
            if (kind === 'republish') this.#counters.republished += 1
          },
          onAudit: (answer) => {
            this.#counters.audits[answer.status] += 1
            if (this.#phase === 'draining') this.#wake()
          },
          onInvalidDisplay: () => {
            this.#counters.invalid += 1
          },
          ...(options.onLink && { onLink: options.onLink }),
        }),
    )
    options.signal?.addEventListener('abort', this.#abort, { once: true })
  }

  async run(): Promise<FleetReport> {
    try {
      if (this.#o.signal?.aborted) this.#aborted = true
      await this.#restore()
      this.#startTimers() // progress during a long ramp too
      await this.#connect()
      await this.#sell()
      await this.#drain()
    } finally {
      await this.#close()
    }
    return this.#counters.report({
      machines: this.#machines.length,
      connected: this.#machines.filter((m) => m.everConnected).length,
      durationS: Math.max(0, this.#salesEndedAt - this.#salesStartedAt) / 1000,
      unanswered: this.#machines.reduce((n, m) => n + m.state.pendingCount, 0),
      auditsUnanswered: this.#machines.reduce((n, m) => n + m.pendingAudits, 0),
    })
  }

  uploadAudits(): number {
    for (const machine of this.#machines) machine.uploadAudit()
    this.#counters.audits.uploaded += this.#machines.length
    return this.#machines.length
  }

  stop(): void {
    this.#stopping = true
    this.#halt()
    this.#wake()
  }

  snapshot(): FleetSnapshot {
    const now = preciseClock()
    const since = (now - this.#progressAt.at) / 1000
    const rate = since > 0 ? (this.#counters.sent - this.#progressAt.sent) / since : 0
    const c = this.#counters
    return {
      phase: this.#phase,
      elapsedS: Math.round((now - this.#startedAt) / 100) / 10,
      machines: this.#machines.length,
      online: this.#machines.filter((m) => m.connected).length,
      sent: c.sent,
      receipted: c.receipted,
      rejected: c.rejected,
      duplicates: c.duplicates,
      republished: c.republished,
      inFlight: this.#inFlight,
      ratePerSecond: Math.round(rate),
      p99Ms: c.latency.summary().p99,
    }
  }

  get #ending(): boolean {
    return this.#stopping || this.#aborted
  }

  readonly #abort = (): void => {
    this.#aborted = true
    this.#halt()
    this.#wake()
  }

  async #restore(): Promise<void> {
    const path = this.#o.stateFile
    if (!path) return
    const stored = await readStateFile(path)
    for (const machine of this.#machines) {
      const sales = stored.get(machine.id)
      stored.delete(machine.id)
      if (!sales?.length) continue
      machine.restore(sales)
      this.#counters.restored += sales.length
      this.#inFlight += sales.length
    }
    // Sales of machines not in this run stay in the file for a run that includes them.
    const others = Object.fromEntries(stored)
    this.#state = createStateWriter(path, () => {
      const out: Record<string, StoredSale[]> = { ...others }
      for (const m of this.#machines) {
        if (m.state.pendingCount === 0) continue
        out[m.id] = m.state.pending().map(({ saleId, payload, createdAt, firstSentAt, attempts, nextRetryAt }) => ({
          saleId, payload, createdAt, firstSentAt, attempts, nextRetryAt,
        }))
      }
      return out
    })
  }

  async #connect(): Promise<void> {
    const perSecond = this.#o.rampUpPerSecond ?? 500
    const t0 = preciseClock()
    const starts: Promise<void>[] = []
    for (const [i, machine] of this.#machines.entries()) {
      if (this.#ending) break
      const wait = t0 + (i * 1000) / perSecond - preciseClock()
      if (wait >= 1) await this.#wait(wait)
      starts.push(machine.start().catch((err: Error) => this.#counters.connectionError(err)))
    }
    // Each start settles within the connect timeout; stop() and abort do not wait for them.
    await Promise.race([Promise.all(starts), this.#halted])
    this.#refreshEligible()
    // The first audit of the run: the baseline the run's vends are counted from. Sales wait for it
    // to be stored (at most 10 s): a vend counted after the read but sold before the gateway
    // received it would fall on the wrong side of the interval's bound.
    if (this.#o.audits) {
      this.uploadAudits()
      const until = preciseClock() + 10_000
      while (!this.#ending && this.#machines.some((m) => m.connected && m.pendingAudits > 0) && preciseClock() < until) await this.#wait(TICK_MS)
    }
    if (this.#eligible.length === 0 && !this.#ending && this.#machines.length > 0) {
      const reasons = [...this.#counters.connectionErrors.keys()]
      throw Object.assign(new Error(`no machine could connect to ${this.#o.url}${reasons.length ? `: ${reasons.join('; ')}` : ''}`), { reasons })
    }
  }

  async #sell(): Promise<void> {
    this.#phase = 'selling'
    const generate = createSaleGenerator(this.#o.catalogue ?? DEFAULT_CATALOGUE, this.#random)
    const intervalMs = this.#o.rate > 0 ? 1000 / this.#o.rate : Infinity
    // After `idleS` connected and quiet (status and telemetry only): the benchmark measures an idle fleet first.
    const start = (this.#salesStartedAt = preciseClock() + (this.#o.idleS ?? 0) * 1000)
    const end = start + this.#o.durationS * 1000
    let k = 0
    const offline = offlinePlan(this.#o, this.#machines)
    const scheduled = () => (intervalMs === Infinity ? Infinity : start + k * intervalMs)
    while (!this.#ending) {
      const now = preciseClock()
      // Every sale whose time has come, in order: open loop, never waiting for answers.
      for (; this.#eligible.length > 0 && scheduled() <= now && scheduled() < end; k++) {
        this.#counters.scheduleLag.record(now - scheduled())
        const sale = generate(new Date())
        if (offline.due(k)) {
          const machine = offline.next()
          const item = { ...sale.items[0]!, qty: 1 }
          machine.sellOffline({ ...sale, items: [item], payment: { method: 'cash', amount: item.price } })
          this.#counters.offlineVend(machine.id, item.price)
          continue
        }
        const machine = pick(this.#random, this.#eligible)
        machine.sell(sale)
        if (sale.payment.method === 'cash') this.#cashBox.set(machine.id, (this.#cashBox.get(machine.id) ?? 0) + sale.payment.amount)
        this.#counters.sent += 1
        this.#inFlight += 1
        this.#state?.touch()
      }
      if (now >= end) break
      // Wake for the next sale or the end; with no machine left to sell on (all refused since), look again after a tick.
      const next = this.#eligible.length > 0 ? Math.min(scheduled(), end) : Math.min(now + TICK_MS, end)
      await this.#wait(next - preciseClock())
    }
    this.#salesEndedAt = preciseClock()
  }

  async #drain(): Promise<void> {
    this.#phase = 'draining'
    const deadline = preciseClock() + (this.#o.drainTimeoutS ?? 10) * 1000
    while (!this.#aborted && this.#inFlight > 0 && preciseClock() < deadline) {
      await this.#wait(deadline - preciseClock()) // woken by the last answer
    }
    // The closing audit, once the sales are answered: every vend of the run is in it.
    if (!this.#o.audits || this.#aborted) return
    this.uploadAudits()
    while (!this.#aborted && this.#machines.some((m) => m.pendingAudits > 0) && preciseClock() < deadline + 10_000) {
      await this.#wait(Math.min(TICK_MS * 5, deadline + 10_000 - preciseClock()))
    }
  }

  async #close(): Promise<void> {
    this.#phase = 'closing'
    for (const t of this.#timers) clearInterval(t)
    this.#timers = []
    this.#o.signal?.removeEventListener('abort', this.#abort)
    await Promise.all(this.#machines.map((m) => m.stop()))
    await this.#state?.close()
    this.#phase = 'done'
  }

  #startTimers(): void {
    const telemetryMs = (this.#o.telemetryIntervalS ?? 60) * 1000
    const auditMs = (this.#o.audits?.intervalS ?? 0) * 1000
    if (auditMs > 0) this.#timers.push(setInterval(() => this.uploadAudits(), auditMs))
    // First readings spread over one interval, so the fleet does not report in one burst.
    const nextTelemetry = this.#machines.map(() => preciseClock() + Math.random() * telemetryMs)
    this.#timers.push(
      setInterval(() => {
        const now = preciseClock()
        for (const [i, machine] of this.#machines.entries()) {
          if (machine.state.pendingCount > 0 || machine.pendingAudits > 0) machine.tick(now)
          if (telemetryMs > 0 && now >= (nextTelemetry[i] ?? Infinity)) {
            nextTelemetry[i] = now + telemetryMs
            machine.publishTelemetry({
              temperatureC: Math.round((4 + Math.random() * 2) * 10) / 10, // a chilled drinks machine
              doorOpen: false,
              cashBoxKop: this.#cashBox.get(machine.id) ?? 0,
            })
          }
        }
      }, TICK_MS),
    )
    this.#timers.push(
      setInterval(() => {
        this.#refreshEligible()
        const snapshot = this.snapshot()
        this.#progressAt = { at: preciseClock(), sent: this.#counters.sent }
        this.#o.onProgress?.(snapshot)
      }, this.#o.progressIntervalMs ?? 1_000),
    )
  }

  #onOutcome(outcome: DisplayOutcome, machine: SimMachine): void {
    this.#counters.count(outcome)
    if (outcome.kind === 'receipt' || outcome.kind === 'rejected') {
      this.#inFlight -= 1
      this.#state?.touch()
      if (this.#phase === 'draining' && this.#inFlight === 0) this.#wake()
    }
    if (outcome.kind === 'receipt') this.#o.onReceipt?.(machine.id, outcome.display, outcome.latencyMs)
  }

  /** Machines a sale may go to: those that connected and were not refused. */
  #refreshEligible(): void {
    this.#eligible = this.#machines.filter((m) => m.everConnected && !m.refused)
  }

  /** Sleeps up to `ms` or until woken (stop, abort, the last answer while draining). */
  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      // setTimeout takes at most 2^31−1 ms; larger (an endless run) would fire at once.
      const timer = setTimeout(done, Math.min(2 ** 31 - 1, Math.max(0, ms)))
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.#wakeup = () => {
        this.#wakeup = null
        done()
      }
    })
  }

  #wake(): void {
    this.#wakeup?.()
  }
}
