import { SEND_TIMEOUT_MS, type Channel } from './channel.js'

export interface TelegramChannelConfig { apiUrl: string; token: string; chatId: string }

/** Telegram Bot API `sendMessage` (https://core.telegram.org/bots/api#sendmessage). */
export function telegramChannel(c: TelegramChannelConfig): Channel {
  return {
    name: 'telegram',
    async send(n) {
      const res = await fetch(`${c.apiUrl}/bot${c.token}/sendMessage`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ chat_id: c.chatId, text: `${n.title}\n${n.text}`, disable_web_page_preview: true }),
        signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
      })
      // The Bot API answers {"ok":false,"description":…} with a 4xx/5xx status.
      const body = await res.json().catch(() => null) as { ok?: boolean; description?: string } | null
      if (!res.ok || body?.ok !== true) throw new Error(`telegram: HTTP ${res.status}${body?.description ? `: ${body.description}` : ''}`)
    },
  }
}
