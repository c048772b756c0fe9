import { randomUUID } from 'node:crypto'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { DisplayMessageSchema, type DisplayMessage, type SaleEvent } from '../../protocol/index.js'
import type { Credentials } from './system.js'
import { waitFor } from './wait.js'

/** A plain MQTT machine for tests: publishes what it is told and records every display message. */
export interface TestMachine {
  id: string
  client: MqttClient
  displays: DisplayMessage[]
  publishSale(sale: SaleEvent): Promise<void>
  publishRaw(topic: string, payload: string | Buffer): Promise<void>
  displaysFor(saleId: string): DisplayMessage[]
  close(): Promise<void>
}

export async function connectMachine(url: string, creds: Credentials, extra: IClientOptions = {}): Promise<TestMachine> {
  const client = mqtt.connect(url, { clientId: creds.id, username: creds.id, password: creds.secret, protocolVersion: 4, reconnectPeriod: 0, clean: true, ...extra })
  const displays: DisplayMessage[] = []
  client.on('message', (_topic, payload) => {
    const parsed = DisplayMessageSchema.safeParse(JSON.parse(payload.toString('utf8')))
    if (parsed.success) displays.push(parsed.data)
  })
  await new Promise<void>((resolve, reject) => { client.once('connect', () => resolve()); client.once('error', reject) })
  await client.subscribeAsync(`vending/${creds.id}/display`, { qos: 1 })
  return {
    id: creds.id, client, displays,
    publishSale: async (sale) => { await client.publishAsync(`vending/${creds.id}/sale`, JSON.stringify(sale), { qos: 1 }) },
    publishRaw: async (topic, payload) => { await client.publishAsync(topic, payload, { qos: 1 }) },
    displaysFor: (saleId) => displays.filter((d) => d.saleId === saleId),
    close: async () => { await client.endAsync() },
  }
}

export function sale(overrides: Partial<SaleEvent> = {}): SaleEvent {
  const items = overrides.items ?? [{ sku: 'A12', name: 'Вода «Архыз» 0,5 л', price: 12000, qty: 1, vat: 'vat22' as const }]
  return {
    v: 1, saleId: randomUUID(), at: new Date().toISOString(), kind: 'sale', items,
    payment: { method: 'card', amount: items.reduce((s, i) => s + i.price * i.qty, 0) }, ...overrides,
  }
}

export async function waitForDisplays(machines: readonly TestMachine[], count: number, what: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(() => machines.reduce((n, m) => n + m.displays.length, 0) >= count, what, timeoutMs)
}
