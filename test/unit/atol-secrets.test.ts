import { describe, expect, it } from 'vitest'
import { createAtolClientRegistry } from '../../gateway/atol/atol-clients.js'
import { loadGatewayConfig } from '../../gateway/config.js'

describe('cloud kassa passwords', () => {
  const config = loadGatewayConfig({
    DATABASE_URL: 'postgres://gw:db-secret@db/gw', ATOL_KASSA_PASSWORD: 'atol-secret-1', OPERATOR_TOKEN: 'operator-token-0123456789',
  })

  it('are read by the variable a kassa names, never the gateway\'s own variables', () => {
    expect(config.providerSecret('ATOL_KASSA_PASSWORD')).toBe('atol-secret-1')
    // A tampered provider_config must not send DATABASE_URL or the operator token to a "provider".
    expect(config.providerSecret('DATABASE_URL')).toBeUndefined()
    expect(config.providerSecret('OPERATOR_TOKEN')).toBeUndefined()
    expect(config.providerSecret('ATOL_UNSET')).toBeUndefined()
  })

  it('never appear when the configuration is logged or serialized', () => {
    expect(JSON.stringify(config)).not.toContain('atol-secret-1')
    expect(config.atol).toEqual({ concurrency: 16, pollMs: 1000, leaseMs: 60_000, callbackUrl: undefined })
  })

  it('resolve into a client per kassa, or a reason that names the variable but not a value', async () => {
    const registry = createAtolClientRegistry({ providerSecret: config.providerSecret })
    const base = { kind: 'atol-v5', baseUrl: 'https://online.atol.ru/possystem/v5/', login: 'vend', group: 'g1' }
    expect((await registry.forKassa('KA', { ...base, passwordEnv: 'ATOL_KASSA_PASSWORD' })).ok).toBe(true)
    expect(await registry.forKassa('KB', { ...base, passwordEnv: 'DATABASE_URL' })).toEqual({ ok: false, reason: 'kassa KB: environment variable DATABASE_URL is not set' })
    expect(await registry.forKassa('KC', { ...base })).toEqual({ ok: false, reason: expect.stringMatching(/^provider_config: passwordEnv: set exactly one/) })
  })
})
