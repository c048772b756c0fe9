// Per-kassa settings of an `atol-v5` signer, as stored in `kassas.provider_config` (JSON).
// The password is never stored there: the config names an environment variable or a file holding it,
// so the database, backups and `fleet list` output never carry it.
import { readFile } from 'node:fs/promises'
import { z } from 'zod'

export const ATOL_BASE_URLS = {
  atol: 'https://online.atol.ru/possystem/v5/',
  atolTest: 'https://testonline.atol.ru/possystem/v5/',
  ecomKassa: 'https://app.ecomkassa.ru/fiscalorder/v5/',
} as const

export const AtolSignerConfigSchema = z
  .strictObject({
    kind: z.literal('atol-v5'),
    baseUrl: z.url({ protocol: /^https?$/ }),
    login: z.string().min(1).max(100),
    group: z.string().min(1).max(100),
    /** Name of the environment variable holding the password (not the password). */
    passwordEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).optional(),
    /** Path of a file holding the password (e.g. a Docker/Kubernetes secret); one trailing newline is ignored. */
    passwordFile: z.string().min(1).optional(),
    /**
     * Tag 1008 for every receipt: ATOL requires a buyer e-mail or phone, a vending buyer gives none.
     * Use a mailbox of the seller's (it receives a copy of each receipt); leave both unset only for a
     * provider group that does not require it.
     */
    clientEmail: z.email().max(64).optional(),
    clientPhone: z.string().regex(/^\+?\d{1,18}$/).optional(),
    /** Tag 1117. */
    companyEmail: z.email().max(64).optional(),
    /** Per HTTP request, ms. */
    timeoutMs: z.int().min(100).max(120_000).default(10_000),
  })
  .refine((c) => (c.passwordEnv === undefined) !== (c.passwordFile === undefined), {
    message: 'set exactly one of passwordEnv and passwordFile',
    path: ['passwordEnv'],
  })
  .refine((c) => c.clientEmail === undefined || c.clientPhone === undefined, {
    message: 'set at most one of clientEmail and clientPhone',
    path: ['clientPhone'],
  })
export type AtolSignerConfig = z.infer<typeof AtolSignerConfigSchema>

export type PasswordResult = { ok: true; password: string } | { ok: false; reason: string }

/**
 * Reads the password the config points at. `env` is passed in (config.ts owns process.env).
 * Reasons name the variable or file, never the value.
 */
export async function resolveAtolPassword(
  config: Pick<AtolSignerConfig, 'passwordEnv' | 'passwordFile'>,
  env: Readonly<Record<string, string | undefined>>,
  read: (path: string) => Promise<string> = (path) => readFile(path, 'utf8'),
): Promise<PasswordResult> {
  if (config.passwordEnv !== undefined) {
    const value = env[config.passwordEnv]
    return value ? { ok: true, password: value } : { ok: false, reason: `environment variable ${config.passwordEnv} is not set` }
  }
  if (config.passwordFile !== undefined) {
    let text: string
    try {
      text = await read(config.passwordFile)
    } catch (err) {
      return { ok: false, reason: `cannot read password file ${config.passwordFile}: ${(err as { code?: string }).code ?? 'error'}` }
    }
    const password = text.replace(/\r?\n$/, '')
    return password ? { ok: true, password } : { ok: false, reason: `password file ${config.passwordFile} is empty` }
  }
  return { ok: false, reason: 'neither passwordEnv nor passwordFile is set' }
}
