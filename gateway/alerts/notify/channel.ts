// A notification channel: one way to tell people of an alert. `send` resolves once the far end
// accepted the message and throws otherwise; the dispatcher records either and retries failures.
export type ChannelName = 'email' | 'telegram' | 'webhook'
export const CHANNEL_NAMES: readonly ChannelName[] = ['email', 'telegram', 'webhook']

export interface Notice {
  reason: 'raised' | 'repeat' | 'test'
  /** One line, for a mail subject or a chat message's first line. */
  title: string
  text: string
  alert: { id: number; key: string; rule: string; severity: string; subject: { kind: string; id: string }; message: string; raisedAt: Date } | null
}

export interface Channel {
  name: ChannelName
  send(notice: Notice): Promise<void>
  close?(): void
}

/** ms a channel may take to accept a message before it counts as failed. */
export const SEND_TIMEOUT_MS = 10_000
