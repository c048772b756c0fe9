import { describe, expect, it } from 'vitest'
import { ConfigError, loadGatewayConfig } from '../../gateway/config.js'

describe('gateway configuration', () => {
  it('uses the documented defaults', () => {
    const c = loadGatewayConfig({})
    expect(c).toMatchObject({ databaseUrl: undefined, dataDir: './data', mqttUrl: 'mqtt://127.0.0.1:1883', topicPrefix: 'vending', httpPort: 8080, batchMax: 200, batchWindowMs: 3, publicUrl: 'http://localhost:8080' })
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

  it('refuses the development secrets, and an open /metrics, in production', () => {
    expect(() => loadGatewayConfig({ NODE_ENV: 'production' })).toThrow(/GATEWAY_MQTT_PASSWORD[\s\S]*OPERATOR_TOKEN[\s\S]*METRICS_TOKEN/)
    expect(() => loadGatewayConfig({ NODE_ENV: 'production', GATEWAY_MQTT_PASSWORD: 'a-real-one', OPERATOR_TOKEN: 'a-real-operator-token' })).toThrow(/METRICS_TOKEN: required in production/)
    const config = loadGatewayConfig({ NODE_ENV: 'production', GATEWAY_MQTT_PASSWORD: 'a-real-one', OPERATOR_TOKEN: 'a-real-operator-token', METRICS_TOKEN: 'a-real-scrape-token' })
    expect(config.mqttPassword).toBe('a-real-one')
    expect(config.metricsToken).toBe('a-real-scrape-token')
  })

  it('reads the HTTP limits', () => {
    expect(loadGatewayConfig({}).http).toEqual({
      maxConnections: 0, headersTimeoutMs: 5000, requestTimeoutMs: 15000, maxInFlight: 64, trustProxy: false, receiptRatePerS: 2, receiptBurst: 20,
    })
    const config = loadGatewayConfig({ HTTP_MAX_CONNECTIONS: '500', HTTP_TRUST_PROXY: '10.0.0.0/8,127.0.0.1', RECEIPT_RATE_PER_S: '0.5', RECEIPT_RATE_BURST: '3' })
    expect(config.http).toMatchObject({ maxConnections: 500, trustProxy: ['10.0.0.0/8', '127.0.0.1'], receiptRatePerS: 0.5, receiptBurst: 3 })
    expect(() => loadGatewayConfig({ HTTP_TRUST_PROXY: 'everyone', HTTP_HEADERS_TIMEOUT_MS: '1' })).toThrow(/HTTP_HEADERS_TIMEOUT_MS[\s\S]*HTTP_TRUST_PROXY|HTTP_TRUST_PROXY[\s\S]*HTTP_HEADERS_TIMEOUT_MS/)
  })
})
