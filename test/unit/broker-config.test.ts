import { describe, expect, it } from 'vitest'
import { BROKER_LIMIT_DEFAULTS, BrokerConfigError, DEV_GATEWAY_PASSWORD, loadBrokerConfig } from '../../broker/config.js'

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

  it('names every bad variable in one error', () => {
    const problems = problemsOf({ MQTT_PORT: '70000', MQTT_WS_PORT: 'x', BROKER_RATE_BURST: '0', LOG_LEVEL: 'loud', MQTT_TLS_PORT: '8883' }, true)
    const named = problems.map((p) => p.split(':')[0])
    expect(named).toEqual(expect.arrayContaining([
      'MQTT_PORT', 'MQTT_WS_PORT', 'BROKER_RATE_BURST', 'LOG_LEVEL', 'MQTT_TLS_CERT', 'MQTT_TLS_KEY', 'DATABASE_URL',
    ]))
  })

  it('requires a gateway password of its own in production', () => {
    expect(problemsOf({ NODE_ENV: 'production' })).toEqual([expect.stringMatching(/^GATEWAY_MQTT_PASSWORD:/)])
    expect(problemsOf({ NODE_ENV: 'production', GATEWAY_MQTT_PASSWORD: DEV_GATEWAY_PASSWORD })).toHaveLength(1)
    expect(loadBrokerConfig({ NODE_ENV: 'production', GATEWAY_MQTT_PASSWORD: 's3cret-of-its-own' }).gatewayPassword).toBe('s3cret-of-its-own')
  })

  it('treats an empty variable as unset', () => {
    expect(loadBrokerConfig({ MQTT_WS_PORT: '', MQTT_PORT: '' }).port).toBe(1883)
  })
})
