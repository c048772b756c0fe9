import { z } from 'zod'
import { DEFAULT_TOPIC_PREFIX } from '../protocol/index.js'
import type { AlertThresholds } from './alerts/alert.types.js'

const port = z.coerce.number().int().min(0).max(65535)
const positiveInt = z.coerce.number().int().min(1)

// The gateway's environment (DESIGN.md, "Configuration"). Only this file reads process.env.
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
  BATCH_WINDOW_MS: z.coerce.number().int().min(0).max(10_000).default(0),
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
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  // Cloud kassas speaking ATOL Online v5 (gateway/fiscalizer/atol.poller.ts).
  ATOL_CONCURRENCY: positiveInt.max(256).default(16),
  ATOL_POLL_MS: positiveInt.max(60_000).default(1000),
  ATOL_LEASE_MS: positiveInt.min(1000).max(3_600_000).default(60_000),
  ATOL_CALLBACK_URL: z.url().optional(),
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
  /** ms a sale may wait to be joined by others before its batch is written (adaptive: 0 when idle). */
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
  /** When set, `GET /metrics` needs it as a Bearer token; unset, the scrape endpoint is open. */
  metricsToken: string | undefined
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
    ]
    if (problems.length > 0) throw new ConfigError(problems)
  }
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
    metricsToken: e.METRICS_TOKEN,
    atol: Object.freeze({
      concurrency: e.ATOL_CONCURRENCY, pollMs: e.ATOL_POLL_MS, leaseMs: e.ATOL_LEASE_MS,
      callbackUrl: e.ATOL_CALLBACK_URL?.replace(/\/$/, ''),
    }),
    providerSecret: (name: string) => (name in GatewayEnvSchema.shape ? undefined : env[name] || undefined),
  })
}

/** The gateway schema's variable names, for the docker-compose check. */
export const GATEWAY_ENV_NAMES: readonly string[] = Object.keys(GatewayEnvSchema.shape)
