import { describe, expect, it } from 'vitest'
import { ConfigError, loadGatewayConfig } from '../../gateway/config.js'

describe('gateway configuration', () => {
  it('uses the documented defaults', () => {
    const c = loadGatewayConfig({})
    expect(c).toMatchObject({ databaseUrl: undefined, dataDir: './data', mqttUrl: 'mqtt://127.0.0.1:1883', topicPrefix: 'vending', httpPort: 8080, batchMax: 200, batchWindowMs: 0, publicUrl: 'http://localhost:8080' })
    expect(Object.isFrozen(c)).toBe(true)
  })

  it('names every bad variable in one error', () => {
    let error: unknown
    try {
      loadGatewayConfig({ HTTP_PORT: 'eighty', BATCH_MAX: '0', DATABASE_URL: 'mysql://x', PUBLIC_URL: 'not a url' })
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(ConfigError)
    const message = (error as Error).message
    for (const name of ['HTTP_PORT', 'BATCH_MAX', 'DATABASE_URL', 'PUBLIC_URL']) expect(message).toContain(name)
  })

  it('refuses the development secrets in production', () => {
    expect(() => loadGatewayConfig({ NODE_ENV: 'production' })).toThrow(/GATEWAY_MQTT_PASSWORD[\s\S]*OPERATOR_TOKEN/)
    expect(loadGatewayConfig({ NODE_ENV: 'production', GATEWAY_MQTT_PASSWORD: 'a-real-one', OPERATOR_TOKEN: 'a-real-operator-token' }).mqttPassword).toBe('a-real-one')
  })
})
