import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'

// Real local endpoints for the notification channels: an SMTP sink, an HTTP server speaking the
// Telegram Bot API's sendMessage, and a webhook receiver that checks the HMAC signature itself.
export interface Sinks {
  mails: { to: string[]; raw: string }[]
  telegram: { token: string; chatId: string; text: string }[]
  webhooks: { body: any; signatureOk: boolean }[]
  /** How many Telegram requests to answer 502 before accepting. */
  failTelegram: { remaining: number; failed: number }
  smtpUrl: string
  telegramUrl: string
  webhookUrl: string
  close(): Promise<void>
}

const readBody = (req: IncomingMessage) => new Promise<string>((resolve) => {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
})
const listen = (server: Server) => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)))

export async function startSinks(webhookSecret: string): Promise<Sinks> {
  const sinks = { mails: [], telegram: [], webhooks: [], failTelegram: { remaining: 0, failed: 0 } } as unknown as Sinks
  const smtp = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
    onData(stream, session, done) {
      let raw = ''
      stream.on('data', (c: Buffer) => { raw += c.toString('utf8') })
      stream.on('end', () => { sinks.mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw }); done() })
    },
  })
  const smtpPort = await new Promise<number>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve((smtp.server.address() as AddressInfo).port)))

  const telegram = createServer(async (req, res) => {
    const body = JSON.parse(await readBody(req)) as { chat_id: string; text: string }
    const m = /^\/bot([^/]+)\/sendMessage$/.exec(req.url ?? '')
    res.setHeader('content-type', 'application/json')
    if (!m) return res.writeHead(404).end(JSON.stringify({ ok: false, description: 'Not Found' }))
    if (sinks.failTelegram.remaining > 0) {
      sinks.failTelegram.remaining--
      sinks.failTelegram.failed++
      return res.writeHead(502).end(JSON.stringify({ ok: false, description: 'Bad Gateway' }))
    }
    sinks.telegram.push({ token: m[1]!, chatId: body.chat_id, text: body.text })
    res.end(JSON.stringify({ ok: true, result: { message_id: sinks.telegram.length } }))
  })
  const webhook = createServer(async (req, res) => {
    const raw = await readBody(req)
    const ts = String(req.headers['x-vending-timestamp'] ?? '')
    const expected = Buffer.from(`sha256=${createHmac('sha256', webhookSecret).update(`${ts}.${raw}`).digest('hex')}`)
    const got = Buffer.from(String(req.headers['x-vending-signature'] ?? ''))
    const signatureOk = got.length === expected.length && timingSafeEqual(got, expected) && Math.abs(Date.now() / 1000 - Number(ts)) < 300
    sinks.webhooks.push({ body: JSON.parse(raw), signatureOk })
    res.writeHead(signatureOk ? 204 : 401).end()
  })
  const [telegramPort, webhookPort] = [await listen(telegram), await listen(webhook)]
  return Object.assign(sinks, {
    smtpUrl: `smtp://127.0.0.1:${smtpPort}`,
    telegramUrl: `http://127.0.0.1:${telegramPort}`,
    webhookUrl: `http://127.0.0.1:${webhookPort}/hooks/vending`,
    close: async () => {
      await new Promise<void>((resolve) => smtp.close(() => resolve()))
      telegram.closeAllConnections()
      webhook.closeAllConnections()
      await Promise.all([telegram, webhook].map((s) => new Promise((resolve) => s.close(resolve))))
    },
  })
}
