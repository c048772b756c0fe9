import nodemailer from 'nodemailer'
import { SEND_TIMEOUT_MS, type Channel } from './channel.js'

export interface EmailChannelConfig { smtpUrl: string; from: string; to: readonly string[] }

/** E-mail over SMTP (nodemailer); the SMTP URL carries host, port, TLS and login. */
export function emailChannel(c: EmailChannelConfig): Channel {
  const transport = nodemailer.createTransport(c.smtpUrl, {
    connectionTimeout: SEND_TIMEOUT_MS, greetingTimeout: SEND_TIMEOUT_MS, socketTimeout: SEND_TIMEOUT_MS,
  } as never)
  return {
    name: 'email',
    async send(n) {
      await transport.sendMail({ from: c.from, to: [...c.to], subject: n.title, text: n.text })
    },
    close: () => transport.close(),
  }
}
