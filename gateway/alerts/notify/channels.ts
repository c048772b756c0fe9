import type { GatewayConfig } from '../../config.js'
import type { Channel } from './channel.js'
import { emailChannel } from './email.channel.js'
import { telegramChannel } from './telegram.channel.js'
import { webhookChannel } from './webhook.channel.js'

/** The channels the configuration turns on, in a fixed order. */
export function channelsOf(notify: GatewayConfig['notify']): Channel[] {
  return [
    ...(notify.email ? [emailChannel(notify.email)] : []),
    ...(notify.telegram ? [telegramChannel(notify.telegram)] : []),
    ...(notify.webhook ? [webhookChannel(notify.webhook)] : []),
  ]
}
