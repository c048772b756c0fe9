import { z } from 'zod'
import { DEFAULT_TOPIC_PREFIX } from '../protocol/index.js'

const port = z.coerce.number().int().min(0).max(65535)
const positiveInt = z.coerce.number().int().min(1)

// The gateway's environment (DESIGN.md, "Configuration"). Only this file reads process.env.
const GatewayEnvSchema = z.object({
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
  BATCH_WINDOW_MS: z.coerce.number().int().min(0).max(10_000).default(2),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
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
  operatorToken: string
  batchMax: number
  /** ms a sale may wait to be joined by others before its batch is written (adaptive: 0 when idle). */
  batchWindowMs: number
  logLevel: string
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
    operatorToken: e.OPERATOR_TOKEN,
    batchMax: e.BATCH_MAX,
    batchWindowMs: e.BATCH_WINDOW_MS,
    logLevel: e.LOG_LEVEL,
  })
}

/** The gateway schema's variable names, for the docker-compose check. */
export const GATEWAY_ENV_NAMES: readonly string[] = Object.keys(GatewayEnvSchema.shape)
