import pino, { type Logger } from 'pino'

/** Secrets never reach a log line, wherever they are nested. */
const REDACT = ['password', 'secret', 'token', '*.password', '*.secret', '*.token', 'smtpUrl', '*.smtpUrl', '*.*.smtpUrl', 'req.headers.authorization', 'headers.authorization']

/** The root logger: JSON to stdout, or pretty lines for the interactive `npm start`. */
export function createLogger(options: { level: string; pretty?: boolean; name?: string }): Logger {
  return pino({
    level: options.level,
    ...(options.name ? { name: options.name } : {}),
    redact: { paths: REDACT, censor: '[redacted]' },
    ...(options.pretty
      ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' } } }
      : {}),
  })
}
