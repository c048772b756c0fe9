import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { DEFAULT_TOPIC_PREFIX, parseMachineSecretKey } from '../protocol/index.js'

// The broker's environment (README.md#configuration). Only this file reads process.env, and only
// through the `env` argument main.ts passes in.

/** The service user's password outside production, so `npm start` works with no set-up. */
export const DEV_GATEWAY_PASSWORD = 'gateway-dev-password'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export interface BrokerLimits {
  /** Machine connections; machines beyond it get CONNACK 3. Sockets are capped a little higher (SERVICE_RESERVE) so the gateway can still log in. */
  maxConnections: number
  /** Per-machine sustained publish rate, messages/s. */
  ratePerS: number
  /** Per-machine burst, messages: also how many publishes may be held back before the machine is cut off. */
  rateBurst: number
  /**
   * bytes; the most a machine's PUBLISH may carry (64 KiB) before the broker closes its connection
   * unanswered. Above the contract's 16 KiB sale cap on purpose: a sale up to this size reaches the
   * gateway, which answers it `rejected` ("payload too large"), so the machine learns to stop
   * (docs/contract.md). A machine's packet may exceed it by PACKET_HEADROOM for topic and header.
   */
  machineMaxPayload: number
  /** bytes; the service user's packet cap (display messages are ~1 KiB). */
  gatewayMaxPacket: number
}

/** Defences against floods of logins and of sockets that never log in (login-throttle.ts, auth-queue.ts, connection-guard.ts). */
export interface BrokerGuardConfig {
  /** ms a new socket may take to send CONNECT before it is closed. */
  connectTimeoutMs: number
  /** Sockets not yet logged in, per remote address; at the limit the address's oldest is closed. */
  preloginPerAddress: number
  /** Sockets not yet logged in, all addresses; at the limit the oldest is closed. */
  preloginMax: number
  /** Failed logins from one address, or for one machine id, before a lockout. */
  loginFailures: number
  /** ms of the first lockout; each further failure while locked doubles it, up to lockoutMaxMs. */
  lockoutMs: number
  lockoutMaxMs: number
  /** Logins needing the database or scrypt checked at once; more wait in the queue. */
  authConcurrency: number
  /** Logins that may wait; beyond, or after authWaitMs, a login is answered CONNACK 3 at once. */
  authQueue: number
  /** ms a login may wait in the queue. */
  authWaitMs: number
  /**
   * Connections the kernel may hold for each listener before the broker takes them (listen(2)'s
   * backlog; Linux caps it at net.core.somaxconn, so that is the operator's knob). Node's default of
   * 511 overflowed when 10,000 machines came back to a restarted broker: each connection dropped
   * there waits out TCP's retransmission timer (1 s, then 2 s, 4 s …) before it is heard again
   * (README.md#reconnect-storm). Not an environment variable.
   */
  listenBacklog: number
}

export const BROKER_GUARD_DEFAULTS: Readonly<BrokerGuardConfig> = Object.freeze({
  connectTimeoutMs: 5_000,
  preloginPerAddress: 64,
  preloginMax: 2_000,
  loginFailures: 10,
  lockoutMs: 1_000,
  lockoutMaxMs: 60_000,
  authConcurrency: 4,
  authQueue: 256,
  authWaitMs: 2_000,
  listenBacklog: 4_096,
})

export interface BrokerTlsConfig {
  port: number
  certFile: string
  keyFile: string
}

export interface BrokerConfig {
  /** Interface to bind; undefined = all. */
  host: string | undefined
  port: number
  wsPort: number | undefined
  tls: BrokerTlsConfig | undefined
  gatewayPassword: string
  /** Required by the standalone broker (`npm run broker`); `npm start` hands the broker its embedded database instead. */
  databaseUrl: string | undefined
  topicPrefix: string
  logLevel: LogLevel
  limits: BrokerLimits
  /** ms between checks for rotated or disabled machines. */
  credentialsPollMs: number
  /** The key of stored machine-secret hashes (MACHINE_SECRET_KEY); the fleet CLI must hold the same. Default: the development key. */
  machineSecretKey?: string
  /** Default: BROKER_GUARD_DEFAULTS. */
  guard?: Readonly<BrokerGuardConfig>
  /** Redis carrying messages between brokers (mqemitter-redis); undefined = one broker, in memory. */
  redisUrl?: string | undefined
  /**
   * The process running the broker stores its machines' sales, status and telemetry (default).
   * Off: the broker only routes them, for gateways with GATEWAY_INGEST=gateway.
   */
  ingest?: boolean
  /**
   * ms a batch of the broker's ingest may wait to fill while writes follow each other (a sale
   * stored within this of the last write's end waits this long); a lone sale is written at once.
   * BROKER_BATCH_WINDOW_MS, default 2 (docs/performance.md); 0 never waits.
   */
  ingestWindowMs?: number
}

export const BROKER_LIMIT_DEFAULTS: Readonly<BrokerLimits> = Object.freeze({
  maxConnections: 20_000,
  ratePerS: 20,
  rateBurst: 50,
  machineMaxPayload: 64 * 1024,
  gatewayMaxPacket: 256 * 1024,
})

const port = z.coerce.number().int().min(0).max(65535)
const positiveInt = z.coerce.number().int().min(1)

const BrokerEnvSchema = z.object({
  NODE_ENV: z.string().optional(),
  MQTT_HOST: z.string().min(1).optional(),
  MQTT_PORT: port.default(1883),
  MQTT_WS_PORT: port.optional(),
  MQTT_TLS_PORT: port.optional(),
  MQTT_TLS_CERT: z.string().min(1).optional(),
  MQTT_TLS_KEY: z.string().min(1).optional(),
  GATEWAY_MQTT_PASSWORD: z.string().min(1).optional(),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  MQTT_TOPIC_PREFIX: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 of [A-Za-z0-9_-]').default(DEFAULT_TOPIC_PREFIX),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  BROKER_MAX_CONNECTIONS: positiveInt.default(BROKER_LIMIT_DEFAULTS.maxConnections),
  BROKER_RATE_PER_S: z.coerce.number().positive().default(BROKER_LIMIT_DEFAULTS.ratePerS),
  BROKER_RATE_BURST: positiveInt.default(BROKER_LIMIT_DEFAULTS.rateBurst),
  BROKER_MACHINE_MAX_PAYLOAD: positiveInt.max(256 * 1024 * 1024).default(BROKER_LIMIT_DEFAULTS.machineMaxPayload),
  BROKER_GATEWAY_MAX_PACKET: positiveInt.max(256 * 1024 * 1024).default(BROKER_LIMIT_DEFAULTS.gatewayMaxPacket),
  BROKER_CREDENTIALS_POLL_MS: z.coerce.number().int().min(50).max(60_000).default(1_000),
  MACHINE_SECRET_KEY: z.string().optional(),
  MACHINE_SECRET_KEY_FILE: z.string().min(1).optional(),
  BROKER_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(500).max(60_000).default(BROKER_GUARD_DEFAULTS.connectTimeoutMs),
  BROKER_PRELOGIN_PER_ADDRESS: positiveInt.max(1_000_000).default(BROKER_GUARD_DEFAULTS.preloginPerAddress),
  BROKER_PRELOGIN_MAX: positiveInt.max(1_000_000).default(BROKER_GUARD_DEFAULTS.preloginMax),
  BROKER_LOGIN_FAILURES: positiveInt.max(10_000).default(BROKER_GUARD_DEFAULTS.loginFailures),
  BROKER_LOCKOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(BROKER_GUARD_DEFAULTS.lockoutMs),
  BROKER_LOCKOUT_MAX_MS: z.coerce.number().int().min(100).max(86_400_000).default(BROKER_GUARD_DEFAULTS.lockoutMaxMs),
  BROKER_AUTH_CONCURRENCY: positiveInt.max(256).default(BROKER_GUARD_DEFAULTS.authConcurrency),
  BROKER_AUTH_QUEUE: z.coerce.number().int().min(0).max(100_000).default(BROKER_GUARD_DEFAULTS.authQueue),
  BROKER_AUTH_WAIT_MS: z.coerce.number().int().min(10).max(60_000).default(BROKER_GUARD_DEFAULTS.authWaitMs),
  BROKER_INGEST: z.enum(['on', 'off']).default('on'),
  BROKER_BATCH_WINDOW_MS: z.coerce.number().int().min(0).max(1_000).default(2),
  REDIS_URL: z.string().regex(/^rediss?:\/\/[^\s]+$/, 'must be a redis:// or rediss:// URL').optional(),
})

export class BrokerConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid broker configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'BrokerConfigError'
  }
}

export interface LoadOptions {
  /** The standalone broker needs DATABASE_URL; `npm start` does not. */
  standalone?: boolean
}

/** Parses the environment once; every bad variable is named in one error. */
export function loadBrokerConfig(env: Record<string, string | undefined>, options: LoadOptions = {}): Readonly<BrokerConfig> {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
  const parsed = BrokerEnvSchema.safeParse(present)
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)

  // Cross-variable rules, checked on the raw values so they are reported with the schema's problems.
  const has = (name: string): boolean => present[name] !== undefined
  if (has('MQTT_TLS_PORT')) {
    for (const name of ['MQTT_TLS_CERT', 'MQTT_TLS_KEY']) {
      if (!has(name)) problems.push(`${name}: required when MQTT_TLS_PORT is set`)
    }
  }
  const production = present.NODE_ENV === 'production'
  // The dev default is public (it is in this file); a production broker must be given its own.
  if (production && (!has('GATEWAY_MQTT_PASSWORD') || present.GATEWAY_MQTT_PASSWORD === DEV_GATEWAY_PASSWORD)) {
    problems.push('GATEWAY_MQTT_PASSWORD: required in production, and not the development default')
  }
  if (options.standalone && !has('DATABASE_URL')) problems.push('DATABASE_URL: required by the standalone broker')
  const file = present.MACHINE_SECRET_KEY_FILE
  const key = parseMachineSecretKey(present.MACHINE_SECRET_KEY, file === undefined ? undefined : { name: file, read: () => readFileSync(file, 'utf8') }, production)
  if (!key.ok) problems.push(key.problem)
  if (problems.length > 0 || !parsed.success || !key.ok) throw new BrokerConfigError(problems)

  const e = parsed.data
  const tls = e.MQTT_TLS_PORT !== undefined && e.MQTT_TLS_CERT && e.MQTT_TLS_KEY
    ? Object.freeze({ port: e.MQTT_TLS_PORT, certFile: e.MQTT_TLS_CERT, keyFile: e.MQTT_TLS_KEY })
    : undefined
  return Object.freeze({
    host: e.MQTT_HOST,
    port: e.MQTT_PORT,
    wsPort: e.MQTT_WS_PORT,
    tls,
    gatewayPassword: e.GATEWAY_MQTT_PASSWORD ?? DEV_GATEWAY_PASSWORD,
    databaseUrl: e.DATABASE_URL,
    topicPrefix: e.MQTT_TOPIC_PREFIX,
    logLevel: e.LOG_LEVEL,
    limits: Object.freeze({
      maxConnections: e.BROKER_MAX_CONNECTIONS,
      ratePerS: e.BROKER_RATE_PER_S,
      rateBurst: e.BROKER_RATE_BURST,
      machineMaxPayload: e.BROKER_MACHINE_MAX_PAYLOAD,
      gatewayMaxPacket: e.BROKER_GATEWAY_MAX_PACKET,
    }),
    credentialsPollMs: e.BROKER_CREDENTIALS_POLL_MS,
    machineSecretKey: key.key,
    guard: Object.freeze({
      connectTimeoutMs: e.BROKER_CONNECT_TIMEOUT_MS,
      preloginPerAddress: e.BROKER_PRELOGIN_PER_ADDRESS,
      preloginMax: e.BROKER_PRELOGIN_MAX,
      loginFailures: e.BROKER_LOGIN_FAILURES,
      lockoutMs: e.BROKER_LOCKOUT_MS,
      lockoutMaxMs: Math.max(e.BROKER_LOCKOUT_MS, e.BROKER_LOCKOUT_MAX_MS),
      authConcurrency: e.BROKER_AUTH_CONCURRENCY,
      authQueue: e.BROKER_AUTH_QUEUE,
      authWaitMs: e.BROKER_AUTH_WAIT_MS,
      listenBacklog: BROKER_GUARD_DEFAULTS.listenBacklog,
    }),
    redisUrl: e.REDIS_URL,
    ingest: e.BROKER_INGEST === 'on',
    ingestWindowMs: e.BROKER_BATCH_WINDOW_MS,
  })
}

/** LOG_LEVEL asks for stacks with start failures (read on its own: the failure may be the config). */
export function wantsStacks(env: Record<string, string | undefined> = process.env): boolean {
  return env.LOG_LEVEL === 'debug' || env.LOG_LEVEL === 'trace'
}

/** The broker schema's variable names, for the docker-compose check. */
export const BROKER_ENV_NAMES: readonly string[] = Object.keys(BrokerEnvSchema.shape)
