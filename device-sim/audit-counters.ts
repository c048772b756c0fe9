import { createHash } from 'node:crypto'
import { crc16Arc, formatG85, type PaymentMethod, type SaleItem } from '../protocol/index.js'

// A simulated machine's own EVA-DTS counters, kept as a real controller keeps them: every vend
// counts when the product is dispensed, whether or not its sale ever reaches the gateway. The audit
// is written as EVA-DTS 6.2 DEX/UCS with CR LF line ends and a G85 check (CRC-16/ARC).

interface Counter { value: number; count: number }
interface Product { sku: string; price: number; counter: Counter }

/** Maximum digits of the lifetime elements written (EVA-DTS 6.2 Appendix A): past them a counter restarts at 0. */
const LIMIT = { value: 10 ** 8, count: 10 ** 8, cashCount: 10 ** 6 }

export interface AuditCountersOptions {
  machineId: string
  /** Lifetime counters before this run, so audits do not all start at 0 (default: derived from the id). */
  start?: { paid: Counter; cash: Counter; cashless: Counter }
}

/** 7 digits from the machine id: the serial after the SIM maker code, stable across runs. */
function serialOf(machineId: string): string {
  return `SIM${(createHash('sha256').update(machineId).digest().readUInt32BE(0) % 10_000_000).toString().padStart(7, '0')}`
}

export class AuditCounters {
  readonly serial: string
  readonly #machineId: string
  readonly #paid: Counter
  readonly #cash: Counter
  readonly #cashless: Counter
  readonly #products = new Map<string, Product>()
  #reads = 0

  constructor(options: AuditCountersOptions) {
    this.#machineId = options.machineId
    this.serial = serialOf(options.machineId)
    const seed = Number(this.serial.slice(3)) % 5000
    const start = options.start ?? { paid: { value: seed * 9_000, count: seed }, cash: { value: seed * 5_000, count: seed - (seed >> 1) }, cashless: { value: seed * 4_000, count: seed >> 1 } }
    this.#paid = { ...start.paid }
    this.#cash = { ...start.cash }
    this.#cashless = { ...start.cashless }
  }

  /** A vend: each item's quantity counts as that many vends at its price. */
  record(items: readonly SaleItem[], method: PaymentMethod): void {
    const by = method === 'cash' ? this.#cash : this.#cashless
    for (const item of items) {
      const value = item.price * item.qty
      for (const c of [this.#paid, by]) { c.value += value; c.count += item.qty }
      const product = this.#products.get(item.sku) ?? { sku: item.sku, price: item.price, counter: { value: 0, count: 0 } }
      product.price = item.price
      product.counter.value += value
      product.counter.count += item.qty
      this.#products.set(item.sku, product)
    }
  }

  get paid(): Readonly<Counter> {
    return this.#paid
  }

  /** The audit as the machine would upload it: DXS … ST … G85, SE, DXE, CR LF, lifetime counters only. */
  render(now: Date): Uint8Array {
    this.#reads += 1
    const v = (c: Counter, countLimit = LIMIT.count) => `${c.value % LIMIT.value}*${c.count % countLimit}`
    const date = now.toISOString().slice(0, 10).replaceAll('-', '')
    const time = now.toISOString().slice(11, 19).replaceAll(':', '')
    const set = [
      'ST*001*0001',
      `ID1*${this.serial}*SIM-1*1**${this.#machineId.slice(0, 20)}`,
      'ID4*2*1643*RUB',
      'CB1*SIMBOARD*SIM-1*1.0',
      `VA1*${v(this.#paid)}`,
      `CA2*${v(this.#cash, LIMIT.cashCount)}`,
      `DA2*${v(this.#cashless)}`,
      ...[...this.#products.values()].flatMap((p) => [`PA1*${p.sku}*${p.price}`, `PA2*${p.counter.count % LIMIT.count}*${p.counter.value % LIMIT.value}`]),
      `EA3*${this.#reads}*${date}*${time}`,
      'EA4*20260101*0000',
    ]
    const covered = Buffer.from(set.map((s) => `${s}\r\n`).join(''), 'latin1')
    const lines = [`DXS*${this.serial}*VA*V0/6*1`, ...set, `G85*${formatG85(crc16Arc(covered))}`, `SE*${set.length + 2}*0001`, 'DXE*1*1']
    return Buffer.from(lines.map((s) => `${s}\r\n`).join(''), 'latin1')
  }
}
