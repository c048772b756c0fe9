import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { DEFAULT_TOPIC_PREFIX, parseMachineSecretKey } from '../protocol/index.js'
import type { AlertThresholds } from './alerts/alert.types.js'

const port = z.coerce.number().int().min(0).max(65535)
const positiveInt = z.coerce.number().int().min(1)

// The gateway's environment (README.md#configuration). Only this file reads process.env.
const GatewayEnvSchema = z.object({
  NODE_ENV: z.string().optional(),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  MQTT_URL: z.string().regex(/^(mqtts?|wss?|tcp):\/\//, 'must be an mqtt://, mqtts://, ws:// or wss:// URL').default('mqtt://127.0.0.1:1883'),
  MQTT_TOPIC_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+$/).default(DEFAULT_TOPIC_PREFIX),
  GATEWAY_ID: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/).default('main'),
  GATEWAY_MQTT_PASSWORD: z.string().min(1).default('gateway-dev-password'),
  HTTP_PORT: port.default(8080),
  HTTP_HOST: z.string().min(1).default('0.0.0.0'),
  PUBLIC_URL: z.url().optional(),
  OPERATOR_TOKEN: z.string().min(16, 'must be at least 16 characters').default('dev-operator-token'),
  BATCH_MAX: positiveInt.max(10_000).default(200),
  BATCH_WINDOW_MS: z.coerce.number().int().min(0).max(10_000).default(3),
  GATEWAY_INGEST: z.enum(['broker', 'gateway']).default('broker'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // Fleet health (gateway/alerts, gateway/operator): alert thresholds, telemetry history, /metrics.
  ALERT_INTERVAL_S: positiveInt.max(3600).default(15),
  ALERT_OFFLINE_MIN: positiveInt.max(10_080).default(10),
  ALERT_NO_SALES_HOURS: positiveInt.max(168).default(3),
  ALERT_TEMP_MIN_C: z.coerce.number().min(-50).max(100).default(0),
  ALERT_TEMP_MAX_C: z.coerce.number().min(-50).max(100).default(12),
  ALERT_SHIFT_HOURS: z.coerce.number().gt(0).max(24).default(23),
  ALERT_FN_EXPIRY_DAYS: positiveInt.max(365).default(30),
  ALERT_FN_FILL_PERCENT: z.coerce.number().gt(0).max(100).default(90),
  ALERT_OFD_UNSENT_DAYS: positiveInt.max(29).default(3),
  ALERT_PENDING_S: positiveInt.max(86_400).default(60),
  TELEMETRY_HISTORY_DAYS: positiveInt.max(365).default(7),
  TELEMETRY_HISTORY_ROWS: positiveInt.max(100_000).default(1000),
  AUDIT_SETTLE_S: z.coerce.number().int().min(0).max(86_400).default(300),
  // Operator console (gateway/accounts, gateway/http/console).
  SESSION_TTL_HOURS: positiveInt.max(24 * 30).default(12),
  // Alert notifications (gateway/alerts/notify): a channel is on when its variables are set.
  NOTIFY_SMTP_URL: z.string().regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL').optional(),
  NOTIFY_EMAIL_FROM: z.string().min(3).default('vending-gateway@localhost'),
  NOTIFY_EMAIL_TO: z.string().regex(/^[^,\s]+@[^,\s]+(,[^,\s]+@[^,\s]+)*$/, 'must be comma-separated e-mail addresses').optional(),
  NOTIFY_TELEGRAM_TOKEN: z.string().regex(/^\d+:[A-Za-z0-9_-]+$/, 'must be a bot token such as 123456:ABC-def').optional(),
  NOTIFY_TELEGRAM_CHAT_ID: z.string().regex(/^(-?\d+|@[A-Za-z0-9_]{5,})$/, 'must be a chat id or @channel').optional(),
  NOTIFY_TELEGRAM_API_URL: z.url({ protocol: /^https?$/ }).default('https://api.telegram.org'),
  NOTIFY_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
  NOTIFY_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  NOTIFY_ROUTES: z.string().regex(/^[a-z_*]+=(email|telegram|webhook)?(,(email|telegram|webhook))*(;[a-z_*]+=(email|telegram|webhook)?(,(email|telegram|webhook))*)*$/,
    'must be rule=channel,channel;… with channels email, telegram, webhook (rule may end in *)').optional(),
  NOTIFY_REPEAT_MIN: positiveInt.max(10_080).default(60),
  NOTIFY_RETRY_S: positiveInt.max(3600).default(30),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  // Cloud kassas speaking ATOL Online v5 (gateway/fiscalizer/atol.poller.ts).
  ATOL_CONCURRENCY: positiveInt.max(256).default(16),
  ATOL_POLL_MS: positiveInt.max(60_000).default(1000),
  ATOL_LEASE_MS: positiveInt.min(1000).max(3_600_000).default(60_000),
  ATOL_CALLBACK_URL: z.url().optional(),
  // The HTTP server under load and abuse (gateway/http/connection-cap.ts, load-shedding.ts, receipt-rate-limit.ts).
  HTTP_MAX_CONNECTIONS: z.coerce.number().int().min(0).max(1_000_000).default(0),
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(500).max(120_000).default(5_000),
  HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(600_000).default(15_000),
  HTTP_MAX_IN_FLIGHT: positiveInt.max(100_000).default(64),
  HTTP_TRUST_PROXY: z.string().regex(/^(true|[0-9a-fA-F.:/]+(,[0-9a-fA-F.:/]+)*)$/, 'must be true or a comma-separated list of addresses/CIDRs').optional(),
  RECEIPT_RATE_PER_S: z.coerce.number().positive().max(10_000).default(2),
  RECEIPT_RATE_BURST: positiveInt.max(100_000).default(20),
})

export interface GatewayConfig {
  databaseUrl: string | undefined
  dataDir: string
  mqttUrl: string
  topicPrefix: string
  gatewayId: string
  mqttUsername: 'gateway'
  mqttPassword: string
  httpPort: number
  httpHost: string
  /** Base of the receipt URLs shown to customers. */
  publicUrl: string
  /** False when publicUrl was derived from HTTP_PORT (so `npm start` may re-derive it from the port it got). */
  publicUrlGiven: boolean
  operatorToken: string
  batchMax: number
  /**
   * Under load, ms a batch may wait to be joined by others: a fiscalization round starts no sooner
   * than this after the one before, and with GATEWAY_INGEST=gateway a sale stored within this of
   * the last write waits this long. Nothing waits after a quiet spell; 0: never.
   */
  batchWindowMs: number
  /**
   * Who stores the machines' sales: 'broker', the broker holding the machine's connection (the
   * gateway waits for its kicks); 'gateway', this gateway, subscribed to every machine (for a
   * broker that does not store them, e.g. Mosquitto).
   */
  ingest: 'broker' | 'gateway'
  logLevel: string
  /** Fleet-health alert thresholds, and how often (ms) they are evaluated. */
  alerts: Readonly<AlertThresholds & { intervalMs: number }>
  /** Telemetry samples kept per machine: received within `days`, at most `rowsPerMachine`. */
  telemetryHistory: Readonly<{ days: number; rowsPerMachine: number }>
  /** s after an audit before its interval gets a verdict: sales sold before it may still be on their way. */
  auditSettleS: number
  /** How long a console sign-in lasts, ms. */
  sessionTtlMs: number
  /** Alert notification channels (each null when not configured), routing and timing. */
  notify: {
    email: { smtpUrl: string; from: string; to: readonly string[] } | null
    telegram: { apiUrl: string; token: string; chatId: string } | null
    webhook: { url: string; secret: string } | null
    routes: Readonly<Record<string, readonly ('email' | 'telegram' | 'webhook')[]>> | null
    repeatMs: number
    retryMs: number
  }
  /** When set, `GET /metrics` needs it as a Bearer token; unset (allowed outside production only), the scrape endpoint is open. */
  metricsToken: string | undefined
  http: {
    /** Open connections at most; 0 = half the process's open-file limit, at most 10,000 (the rest stays for the database and MQTT). */
    maxConnections: number
    /** ms a client may take to send its request headers, and its whole request. */
    headersTimeoutMs: number
    requestTimeoutMs: number
    /** Requests handled at once (health probes aside); more are answered 503 at once. */
    maxInFlight: number
    /** Fastify's trustProxy: whose X-Forwarded-For to believe for the client's address. */
    trustProxy: boolean | string[]
    /** Receipt lookups per client address: sustained per second, and burst. */
    receiptRatePerS: number
    receiptBurst: number
  }
  atol: {
    /** HTTP requests in flight per kassa. */
    concurrency: number
    /** How often the poller looks for due sales, and the base of its backoff, ms. */
    pollMs: number
    /** How long a claimed submitted sale is left to its gateway before any other takes it over, ms. */
    leaseMs: number
    /** Public base URL; when set, providers POST results to `{base}/atol/callback/{kassaId}`. */
    callbackUrl: string | undefined
  }
  /**
   * A cloud kassa's password, by the variable name its provider_config gives (the database holds
   * the name, never the password). A function, so logging the config never prints it; the
   * gateway's own variables are not readable this way.
   */
  providerSecret: (name: string) => string | undefined
  /**
   * MACHINE_SECRET_KEY, for the console's provisioning (new machine secrets are stored as their
   * keyed hash, which the broker checks with the same key); null when it is not usable here (unset
   * in production, or invalid): the console then issues no secrets, and the gateway runs on.
   */
  machineSecretKey?: string | null
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

/** Parses the environment once; every bad variable is named in one error. */
export function loadGatewayConfig(env: Record<string, string | undefined> = process.env): Readonly<GatewayConfig> {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
  const parsed = GatewayEnvSchema.safeParse(present)
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`))
  }
  const e = parsed.data
  // The development defaults are public (they are in this file): production must set its own.
  if (e.NODE_ENV === 'production') {
    const problems = [
      ...(present.GATEWAY_MQTT_PASSWORD === undefined || e.GATEWAY_MQTT_PASSWORD === 'gateway-dev-password' ? ['GATEWAY_MQTT_PASSWORD: required in production, and not the development default'] : []),
      ...(present.OPERATOR_TOKEN === undefined || e.OPERATOR_TOKEN === 'dev-operator-token' ? ['OPERATOR_TOKEN: required in production, and not the development default'] : []),
      // The scrape shows kassa ids and fleet state: never open in production.
      ...(e.METRICS_TOKEN === undefined ? ['METRICS_TOKEN: required in production (GET /metrics is served only with it)'] : []),
    ]
    if (problems.length > 0) throw new ConfigError(problems)
  }
  const pairs = [
    ['NOTIFY_SMTP_URL', 'NOTIFY_EMAIL_TO'], ['NOTIFY_TELEGRAM_TOKEN', 'NOTIFY_TELEGRAM_CHAT_ID'], ['NOTIFY_WEBHOOK_URL', 'NOTIFY_WEBHOOK_SECRET'],
  ] as const
  const half = pairs.filter(([a, b]) => (e[a] === undefined) !== (e[b] === undefined)).map(([a, b]) => `${e[a] === undefined ? a : b}: required with ${e[a] === undefined ? b : a}`)
  if (half.length > 0) throw new ConfigError(half)
  return Object.freeze({
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    mqttUrl: e.MQTT_URL,
    topicPrefix: e.MQTT_TOPIC_PREFIX,
    gatewayId: e.GATEWAY_ID,
    mqttUsername: 'gateway',
    mqttPassword: e.GATEWAY_MQTT_PASSWORD,
    httpPort: e.HTTP_PORT,
    httpHost: e.HTTP_HOST,
    publicUrl: (e.PUBLIC_URL ?? `http://localhost:${e.HTTP_PORT}`).replace(/\/$/, ''),
    publicUrlGiven: e.PUBLIC_URL !== undefined,
    operatorToken: e.OPERATOR_TOKEN,
    batchMax: e.BATCH_MAX,
    batchWindowMs: e.BATCH_WINDOW_MS,
    ingest: e.GATEWAY_INGEST,
    logLevel: e.LOG_LEVEL,
    alerts: Object.freeze({
      intervalMs: e.ALERT_INTERVAL_S * 1000, offlineMin: e.ALERT_OFFLINE_MIN, noSalesHours: e.ALERT_NO_SALES_HOURS,
      temperatureMinC: e.ALERT_TEMP_MIN_C, temperatureMaxC: e.ALERT_TEMP_MAX_C, shiftHours: e.ALERT_SHIFT_HOURS,
      fnExpiryDays: e.ALERT_FN_EXPIRY_DAYS, fnFillPercent: e.ALERT_FN_FILL_PERCENT, ofdUnsentDays: e.ALERT_OFD_UNSENT_DAYS,
      pendingS: e.ALERT_PENDING_S,
    }),
    telemetryHistory: Object.freeze({ days: e.TELEMETRY_HISTORY_DAYS, rowsPerMachine: e.TELEMETRY_HISTORY_ROWS }),
    auditSettleS: e.AUDIT_SETTLE_S,
    sessionTtlMs: e.SESSION_TTL_HOURS * 3_600_000,
    notify: Object.freeze({
      email: e.NOTIFY_SMTP_URL && e.NOTIFY_EMAIL_TO ? { smtpUrl: e.NOTIFY_SMTP_URL, from: e.NOTIFY_EMAIL_FROM, to: e.NOTIFY_EMAIL_TO.split(',') } : null,
      telegram: e.NOTIFY_TELEGRAM_TOKEN && e.NOTIFY_TELEGRAM_CHAT_ID
        ? { apiUrl: e.NOTIFY_TELEGRAM_API_URL.replace(/\/$/, ''), token: e.NOTIFY_TELEGRAM_TOKEN, chatId: e.NOTIFY_TELEGRAM_CHAT_ID } : null,
      webhook: e.NOTIFY_WEBHOOK_URL && e.NOTIFY_WEBHOOK_SECRET ? { url: e.NOTIFY_WEBHOOK_URL, secret: e.NOTIFY_WEBHOOK_SECRET } : null,
      routes: e.NOTIFY_ROUTES === undefined ? null : Object.fromEntries(e.NOTIFY_ROUTES.split(';').map((r) => {
        const [rule, channels] = r.split('=') as [string, string]
        return [rule, channels === '' ? [] : channels.split(',') as ('email' | 'telegram' | 'webhook')[]]
      })),
      repeatMs: e.NOTIFY_REPEAT_MIN * 60_000,
      retryMs: e.NOTIFY_RETRY_S * 1000,
    }),
    metricsToken: e.METRICS_TOKEN,
    http: Object.freeze({
      maxConnections: e.HTTP_MAX_CONNECTIONS, headersTimeoutMs: Math.min(e.HTTP_HEADERS_TIMEOUT_MS, e.HTTP_REQUEST_TIMEOUT_MS),
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS, maxInFlight: e.HTTP_MAX_IN_FLIGHT,
      trustProxy: e.HTTP_TRUST_PROXY === undefined ? false : e.HTTP_TRUST_PROXY === 'true' ? true : e.HTTP_TRUST_PROXY.split(','),
      receiptRatePerS: e.RECEIPT_RATE_PER_S, receiptBurst: e.RECEIPT_RATE_BURST,
    }),
    atol: Object.freeze({
      concurrency: e.ATOL_CONCURRENCY, pollMs: e.ATOL_POLL_MS, leaseMs: e.ATOL_LEASE_MS,
      callbackUrl: e.ATOL_CALLBACK_URL?.replace(/\/$/, ''),
    }),
    providerSecret: (name: string) => (name in GatewayEnvSchema.shape || name.startsWith('MACHINE_SECRET_KEY') ? undefined : env[name] || undefined),
    machineSecretKey: ((k) => (k.ok ? k.key : null))(machineSecretKeyOf(env)),
  })
}

/** LOG_LEVEL asks for stacks with start failures (read on its own: the failure may be the config). */
export function wantsStacks(env: Record<string, string | undefined> = process.env): boolean {
  return env.LOG_LEVEL === 'debug' || env.LOG_LEVEL === 'trace'
}

/**
 * MACHINE_SECRET_KEY (or the file MACHINE_SECRET_KEY_FILE names) for the fleet CLI, which stores new
 * machine secrets as their keyed hash; the broker checks them with the same key. The gateway reads
 * it leniently (GatewayConfig.machineSecretKey) for the console's provisioning.
 */
export function loadMachineSecretKey(env: Record<string, string | undefined> = process.env): string {
  const key = machineSecretKeyOf(env)
  if (!key.ok) throw new ConfigError([key.problem])
  return key.key
}

function machineSecretKeyOf(env: Record<string, string | undefined>) {
  const file = env.MACHINE_SECRET_KEY_FILE || undefined
  return parseMachineSecretKey(env.MACHINE_SECRET_KEY || undefined, file === undefined ? undefined : { name: file, read: () => readFileSync(file, 'utf8') }, env.NODE_ENV === 'production')
}

/** The gateway schema's variable names, for the docker-compose check. */
export const GATEWAY_ENV_NAMES: readonly string[] = Object.keys(GatewayEnvSchema.shape)
