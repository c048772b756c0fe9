import { ATOL_PROVIDER } from '../atol/atol-clients.js'
import { AtolSignerConfigSchema, type AtolSignerConfig } from '../atol/atol-signer.config.js'
import type { FleetArgs } from './fleet.args.js'
import { FleetError } from './fleet.repository.js'

/**
 * `add-kassa --provider atol-v5 …` → what goes into kassas.provider_config: where the provider is
 * and where the password is read from (an environment variable's name or a file path), never the
 * password. Validated by the same schema the gateway reads it with, so a kassa the CLI accepts is
 * one the gateway can use.
 */
export function atolConfigFromArgs(a: FleetArgs<'add-kassa'>): AtolSignerConfig {
  const parsed = AtolSignerConfigSchema.safeParse({
    kind: ATOL_PROVIDER, baseUrl: a['base-url'], login: a.login, group: a.group,
    passwordEnv: a['password-env'], passwordFile: a['password-file'],
    clientEmail: a['client-email'], clientPhone: a['client-phone'], companyEmail: a['company-email'], timeoutMs: a['timeout-ms'],
  })
  if (!parsed.success) throw new FleetError(`add-kassa: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
  return parsed.data
}
