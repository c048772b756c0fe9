// One ATOL client per kassa, built from `kassas.provider_config` and the password it points at.
// Cached so the token (24 h) is shared by every call for that kassa in this process; rebuilt when the
// stored config changes, or when the provider refused the credentials (the password file may have been
// rotated since it was read).
import { createAtolClient, type AtolClient } from './atol.client.js'
import { AtolSignerConfigSchema, resolveAtolPassword, type AtolSignerConfig } from './atol-signer.config.js'

export const ATOL_PROVIDER = 'atol-v5'

export interface AtolKassa {
  config: AtolSignerConfig
  client: AtolClient
}

export type AtolKassaResult = { ok: true; kassa: AtolKassa } | { ok: false; reason: string }

export interface AtolClientRegistryDeps {
  /** config.providerSecret: the password by the variable name the kassa's config gives. */
  providerSecret: (name: string) => string | undefined
  fetch?: typeof fetch
  now?: () => Date
}

/** Parses a kassa's stored config; the reason names the field, never a value. */
export function parseAtolConfig(providerConfig: unknown): { ok: true; config: AtolSignerConfig } | { ok: false; reason: string } {
  const parsed = AtolSignerConfigSchema.safeParse(providerConfig)
  if (parsed.success) return { ok: true, config: parsed.data }
  return { ok: false, reason: `provider_config: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}` }
}

export function createAtolClientRegistry(deps: AtolClientRegistryDeps) {
  const cache = new Map<string, { key: string; kassa: AtolKassa }>()

  async function forKassa(kassaId: string, providerConfig: unknown): Promise<AtolKassaResult> {
    const key = JSON.stringify(providerConfig)
    const cached = cache.get(kassaId)
    if (cached?.key === key) return { ok: true, kassa: cached.kassa }
    const parsed = parseAtolConfig(providerConfig)
    if (!parsed.ok) return parsed
    const config = parsed.config
    const env = config.passwordEnv === undefined ? {} : { [config.passwordEnv]: deps.providerSecret(config.passwordEnv) }
    const password = await resolveAtolPassword(config, env)
    if (!password.ok) return { ok: false, reason: `kassa ${kassaId}: ${password.reason}` }
    const client = createAtolClient({
      baseUrl: config.baseUrl, login: config.login, password: password.password, group: config.group,
      timeoutMs: config.timeoutMs, ...(deps.fetch && { fetch: deps.fetch }), ...(deps.now && { now: deps.now }),
    })
    const kassa = { config, client }
    cache.set(kassaId, { key, kassa })
    return { ok: true, kassa }
  }

  return {
    forKassa,
    /** Drops a kassa's client: the next call reads its config and password again. */
    forget: (kassaId: string) => { cache.delete(kassaId) },
  }
}
export type AtolClientRegistry = ReturnType<typeof createAtolClientRegistry>
