import { describe, expect, it } from 'vitest'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BROKER_GUARD_DEFAULTS, BROKER_LIMIT_DEFAULTS, BrokerConfigError, DEV_GATEWAY_PASSWORD, loadBrokerConfig } from '../../broker/config.js'
import { DEV_MACHINE_SECRET_KEY } from '../../protocol/index.js'

function problemsOf(env: Record<string, string>, standalone = false): string[] {
  try {
    loadBrokerConfig(env, { standalone })
  } catch (err) {
    if (err instanceof BrokerConfigError) return err.problems
    throw err
  }
  return []
}

describe('loadBrokerConfig', () => {
  it('fills the documented defaults outside production', () => {
    const config = loadBrokerConfig({})
    expect(config).toMatchObject({
      port: 1883, wsPort: undefined, tls: undefined, topicPrefix: 'vending', logLevel: 'info',
      gatewayPassword: DEV_GATEWAY_PASSWORD, databaseUrl: undefined, credentialsPollMs: 1000,
    })
    expect(config.limits).toEqual(BROKER_LIMIT_DEFAULTS)
    expect(Object.isFrozen(config)).toBe(true)
    expect(Object.isFrozen(config.limits)).toBe(true)
  })

  it('reads every listener and limit variable', () => {
    const config = loadBrokerConfig({
      MQTT_PORT: '0', MQTT_WS_PORT: '8083', MQTT_TLS_PORT: '8883', MQTT_TLS_CERT: '/c.pem', MQTT_TLS_KEY: '/k.pem',
      BROKER_MAX_CONNECTIONS: '10', BROKER_RATE_PER_S: '2.5', BROKER_RATE_BURST: '5', MQTT_TOPIC_PREFIX: 'vm',
    })
    expect(config).toMatchObject({ port: 0, wsPort: 8083, topicPrefix: 'vm', tls: { port: 8883, certFile: '/c.pem', keyFile: '/k.pem' } })
    expect(config.limits).toMatchObject({ maxConnections: 10, ratePerS: 2.5, rateBurst: 5 })
  })

  it('reads the Redis bus and the ingest switch, and names a bad value of either', () => {
    expect(loadBrokerConfig({})).toMatchObject({ redisUrl: undefined, ingest: true })
    expect(loadBrokerConfig({ REDIS_URL: 'redis://redis:6379', BROKER_INGEST: 'off' })).toMatchObject({ redisUrl: 'redis://redis:6379', ingest: false })
    expect(problemsOf({ REDIS_URL: 'http://redis:6379', BROKER_INGEST: 'maybe' }).map((p) => p.split(':')[0]).sort()).toEqual(['BROKER_INGEST', 'REDIS_URL'])
  })

  it("reads the broker ingest's batching window", () => {
    expect(loadBrokerConfig({}).ingestWindowMs).toBe(2)
    expect(loadBrokerConfig({ BROKER_BATCH_WINDOW_MS: '20' }).ingestWindowMs).toBe(20)
    expect(problemsOf({ BROKER_BATCH_WINDOW_MS: '-1' }).map((p) => p.split(':')[0])).toEqual(['BROKER_BATCH_WINDOW_MS'])
  })

  it('names every bad variable in one error', () => {
    const problems = problemsOf({ MQTT_PORT: '70000', MQTT_WS_PORT: 'x', BROKER_RATE_BURST: '0', LOG_LEVEL: 'loud', MQTT_TLS_PORT: '8883' }, true)
    const named = problems.map((p) => p.split(':')[0])
    expect(named).toEqual(expect.arrayContaining([
      'MQTT_PORT', 'MQTT_WS_PORT', 'BROKER_RATE_BURST', 'LOG_LEVEL', 'MQTT_TLS_CERT', 'MQTT_TLS_KEY', 'DATABASE_URL',
    ]))
  })

  it('requires a gateway password and a machine-secret key of its own in production', () => {
    const key = 'k'.repeat(40)
    expect(problemsOf({ NODE_ENV: 'production' })).toEqual([expect.stringMatching(/^GATEWAY_MQTT_PASSWORD:/), expect.stringMatching(/^MACHINE_SECRET_KEY:/)])
    expect(problemsOf({ NODE_ENV: 'production', GATEWAY_MQTT_PASSWORD: DEV_GATEWAY_PASSWORD, MACHINE_SECRET_KEY: key })).toHaveLength(1)
    expect(problemsOf({ NODE_ENV: 'production', GATEWAY_MQTT_PASSWORD: 's3cret-of-its-own', MACHINE_SECRET_KEY: DEV_MACHINE_SECRET_KEY })).toEqual([expect.stringMatching(/^MACHINE_SECRET_KEY: not the development default/)])
    const config = loadBrokerConfig({ NODE_ENV: 'production', GATEWAY_MQTT_PASSWORD: 's3cret-of-its-own', MACHINE_SECRET_KEY: key })
    expect(config.gatewayPassword).toBe('s3cret-of-its-own')
    expect(config.machineSecretKey).toBe(key)
  })

  it('reads the machine-secret key from a file, and refuses a short or unreadable one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'broker-key-'))
    writeFileSync(join(dir, 'key'), `${'f'.repeat(48)}\n`)
    expect(loadBrokerConfig({ MACHINE_SECRET_KEY_FILE: join(dir, 'key') }).machineSecretKey).toBe('f'.repeat(48))
    expect(problemsOf({ MACHINE_SECRET_KEY_FILE: join(dir, 'missing') })).toEqual([expect.stringMatching(/^MACHINE_SECRET_KEY_FILE: cannot read .*ENOENT/)])
    expect(problemsOf({ MACHINE_SECRET_KEY: 'short' })).toEqual([expect.stringMatching(/^MACHINE_SECRET_KEY: must be at least 32 bytes/)])
    expect(loadBrokerConfig({}).machineSecretKey).toBe(DEV_MACHINE_SECRET_KEY)
  })

  it('reads the connection and login guards', () => {
    expect(loadBrokerConfig({}).guard).toEqual(BROKER_GUARD_DEFAULTS)
    const config = loadBrokerConfig({
      BROKER_CONNECT_TIMEOUT_MS: '2000', BROKER_PRELOGIN_PER_ADDRESS: '8', BROKER_PRELOGIN_MAX: '100', BROKER_LOGIN_FAILURES: '3',
      BROKER_LOCKOUT_MS: '500', BROKER_LOCKOUT_MAX_MS: '8000', BROKER_AUTH_CONCURRENCY: '2', BROKER_AUTH_QUEUE: '10', BROKER_AUTH_WAIT_MS: '300',
    })
    expect(config.guard).toEqual({
      connectTimeoutMs: 2000, preloginPerAddress: 8, preloginMax: 100, loginFailures: 3, lockoutMs: 500, lockoutMaxMs: 8000,
      authConcurrency: 2, authQueue: 10, authWaitMs: 300, listenBacklog: BROKER_GUARD_DEFAULTS.listenBacklog,
    })
    expect(problemsOf({ BROKER_CONNECT_TIMEOUT_MS: '10', BROKER_AUTH_CONCURRENCY: '0' }).map((p) => p.split(':')[0])).toEqual(['BROKER_CONNECT_TIMEOUT_MS', 'BROKER_AUTH_CONCURRENCY'])
    // A reconnect storm needs more than Node's 511 (README.md#reconnect-storm); the kernel caps it at somaxconn.
    expect(BROKER_GUARD_DEFAULTS.listenBacklog).toBe(4096)
  })

  it('treats an empty variable as unset', () => {
    expect(loadBrokerConfig({ MQTT_WS_PORT: '', MQTT_PORT: '' }).port).toBe(1883)
  })
})
