import type { Kysely } from 'kysely'
import { sql } from 'kysely'
import { parseFleetArgs } from '../../gateway/fleet/fleet.args.js'
import { runFleetCommand } from '../../gateway/fleet/fleet.commands.js'
import type { AtolServer } from './atol-server.js'
import type { Credentials } from './system.js'

/** The cloud kassa of the ATOL tests; the double checks receipts carry its INN. */
export const ATOL_KASSA = { id: 'KA', name: 'ООО «Облачный вендинг»', inn: '7707083893', sno: 'usn_income', tz: 'Europe/Moscow' } as const
/** The provider's FN: a test-range number distinct from the emulated TEST_KASSA's. */
export const ATOL_FN = '9999078900005678'
/** The variable the kassa's provider_config names; the tests pass it in the gateway's environment. */
export const ATOL_PASSWORD_ENV = 'ATOL_TEST_PASSWORD'

/** Gateway environment for an ATOL test: the password and a fast poller (the lease stays the default). */
export function atolGatewayEnv(server: AtolServer, extra: Record<string, string> = {}): Record<string, string> {
  return { [ATOL_PASSWORD_ENV]: server.password, ATOL_POLL_MS: '50', ...extra }
}

/**
 * Provisions the ATOL kassa (through the CLI's own argument parser, as an operator types it) and
 * `count` machines mapped to it.
 */
export async function provisionAtolFleet(db: Kysely<any>, server: AtolServer, count: number, options: { timeoutMs?: number; prefix?: string } = {}): Promise<Credentials[]> {
  const k = ATOL_KASSA
  const { command, args } = parseFleetArgs([
    'add-kassa', '--id', k.id, '--name', k.name, '--inn', k.inn, '--sno', k.sno, '--tz', k.tz,
    '--provider', 'atol-v5', '--base-url', server.url, '--login', server.login, '--group', server.group,
    '--password-env', ATOL_PASSWORD_ENV, '--client-email', 'receipts@vending.example',
    '--timeout-ms', String(options.timeoutMs ?? 10_000),
  ])
  await runFleetCommand(db, command, args)
  const machines: Credentials[] = []
  for (let i = 1; i <= count; i++) {
    const id = `${options.prefix ?? 'AM-'}${String(i).padStart(3, '0')}`
    const { output } = await runFleetCommand(db, 'add-machine', { id, kassa: k.id, address: 'г. Москва, ул. Тверская, 1', place: 'Вестибюль, 1 этаж' })
    machines.push(output as Credentials)
  }
  return machines
}

/** Sales per state, e.g. { done: 500 }. */
export async function saleStates(db: Kysely<any>): Promise<Record<string, number>> {
  const rows = await sql<{ state: string; n: number }>`select state, count(*)::int as n from sales group by state`.execute(db)
  return Object.fromEntries(rows.rows.map((r) => [r.state, r.n]))
}
