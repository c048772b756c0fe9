import { createHmac } from 'node:crypto'
import { SEND_TIMEOUT_MS, type Channel, type Notice } from './channel.js'

export interface WebhookChannelConfig { url: string; secret: string }

/**
 * `x-vending-signature: sha256=<hex>` is HMAC-SHA256 with the shared secret over
 * `<x-vending-timestamp>.<body>`: the receiver recomputes it, and refuses old timestamps so a
 * captured request cannot be replayed later.
 */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`
}

export const webhookBody = (n: Notice): string => JSON.stringify({ reason: n.reason, title: n.title, text: n.text, alert: n.alert })

/** A signed JSON POST; any 2xx is accepted. */
export function webhookChannel(c: WebhookChannelConfig, now: () => Date = () => new Date()): Channel {
  return {
    name: 'webhook',
    async send(n) {
      const body = webhookBody(n)
      const timestamp = String(Math.floor(now().getTime() / 1000))
      const res = await fetch(c.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-vending-timestamp': timestamp, 'x-vending-signature': signWebhook(c.secret, timestamp, body) },
        body, signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
      })
      await res.arrayBuffer()
      if (!res.ok) throw new Error(`webhook: HTTP ${res.status}`)
    },
  }
}
