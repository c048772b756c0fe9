import type { FleetCommand } from './fleet.args.js'

// `npm run fleet -- --help` and `npm run fleet -- <command> --help`. Every option of every command
// has a line here (a unit test holds the two lists together).

interface CommandHelp { usage: string; summary: string; options: [string, string][] }

const ID: [string, string] = ['--id ID', 'machine id: 1–64 of A-Z a-z 0-9 _ -, not starting with "gateway"']

export const COMMAND_HELP: Record<FleetCommand, CommandHelp> = {
  'add-kassa': {
    usage: 'add-kassa --id K1 --name NAME --inn INN --sno SNO --tz ZONE (--reg REG --fn FN | --provider atol-v5 …)',
    summary: 'register a kassa: an emulated FN, or a cloud kassa speaking ATOL Online v5',
    options: [
      ['--id ID', 'kassa id: 1–64 of A-Z a-z 0-9 _ -'],
      ['--name NAME', "the seller's name, printed on receipts"],
      ['--inn INN', "the seller's INN (10 or 12 digits, check digits verified)"],
      ['--sno SNO', 'tax system: osn | usn_income | usn_income_outcome | esn | patent'],
      ['--tz ZONE', 'IANA time zone of the places it serves, e.g. Europe/Moscow'],
      ['--reg REG', '16-digit KKT registration number (emulated FN)'],
      ['--fn FN', 'emulated FN number: 16 digits starting with 9999 (the test range)'],
      ['--fn-model MODEL', 'fn-15 | fn-36 (default fn-36): its lifetime'],
      ['--doc-limit N', 'documents the FN holds (default 250000)'],
      ['--provider P', 'emulated (default) | atol-v5'],
      ['--base-url URL', 'atol-v5: the provider, e.g. https://online.atol.ru/possystem/v5/'],
      ['--login L', 'atol-v5: API login'],
      ['--group G', 'atol-v5: kassa group'],
      ['--password-env NAME', 'atol-v5: environment variable holding the password (the database keeps the name)'],
      ['--password-file PATH', 'atol-v5: file holding the password'],
      ['--client-email E', 'atol-v5: buyer e-mail for tag 1008 (a mailbox of the seller)'],
      ['--client-phone P', 'atol-v5: buyer phone for tag 1008, instead of the e-mail'],
      ['--company-email E', 'atol-v5: tag 1117'],
      ['--timeout-ms MS', 'atol-v5: per HTTP request (default 10000)'],
    ],
  },
  'add-machine': {
    usage: 'add-machine --id VM-101 --kassa K1 --address ADDRESS --place PLACE [--tz ZONE] [--number N]',
    summary: "provision a machine; prints its secret once (the machine's broker password)",
    options: [
      ID,
      ['--kassa ID', 'the kassa that fiscalizes its sales (in the same time zone)'],
      ['--address A', 'settlement address, tag 1009'],
      ['--place P', 'place of settlement, tag 1187'],
      ['--tz ZONE', "the machine's time zone (default: the kassa's; must equal it)"],
      ['--number N', 'machine number, tag 1036, at most 20 characters (default: the id)'],
    ],
  },
  import: {
    usage: 'import machines.csv [--out credentials.json] [--kassa K1]',
    summary: 'provision many machines from a CSV in one transaction; writes their secrets for the simulator',
    options: [
      ['FILE.csv', 'header row, then one machine a line: id,kassa,address,place[,tz][,number]'],
      ['--out FILE', 'where the secrets go, a JSON array of {id, secret} (default: FILE.credentials.json); must not exist'],
      ['--kassa ID', 'the kassa of rows whose kassa column is absent or empty'],
    ],
  },
  'rotate-secret': { usage: 'rotate-secret --id VM-101', summary: 'a new secret; the old one stops working at once', options: [ID] },
  'disable-machine': { usage: 'disable-machine --id VM-101', summary: 'refuse its logins and close its connection', options: [ID] },
  'enable-machine': { usage: 'enable-machine --id VM-101', summary: 'admit its logins again, with its current secret', options: [ID] },
  'move-machine': {
    usage: 'move-machine --id VM-101 --kassa K2',
    summary: 'map a machine to another kassa; its pending sales follow',
    options: [ID, ['--kassa ID', 'the new kassa (in the same time zone)']],
  },
  'replace-fn': {
    usage: 'replace-fn --kassa K1 --fn FN',
    summary: "replace a kassa's full or expired FN; numbering starts at 1",
    options: [
      ['--kassa ID', 'an emulated kassa'],
      ['--fn FN', 'the new FN: 16 digits starting with 9999'],
      ['--fn-model MODEL', 'fn-15 | fn-36 (default fn-36)'],
      ['--doc-limit N', 'documents the FN holds (default 250000)'],
    ],
  },
  'add-user': {
    usage: 'add-user --username anna [--role admin|operator|viewer] [--password-file PATH]',
    summary: 'a console user; without --password-file a password is generated and printed once',
    options: [
      ['--username NAME', '1–64 of A-Z a-z 0-9 . _ @ -'],
      ['--role ROLE', 'admin (provisioning, users, keys; the default) | operator (acknowledge, corrections) | viewer'],
      ['--password-file PATH', 'a file whose first line is the password, at least 10 characters'],
    ],
  },
  list: { usage: 'list', summary: 'kassas and machines', options: [] },
  verify: { usage: 'verify', summary: 'check every fiscal document (sign, numbering, totals); exit 1 naming what failed', options: [] },
  correct: {
    usage: 'correct --machine VM-101 --interval 42 [--settle-s 300]',
    summary: 'issue the one correction receipt (FFD 1.2 form 31) of an interval reconciliation found unreceipted',
    options: [
      ['--machine ID', 'the machine whose audits disagree with its receipts'],
      ['--interval N', 'the interval: the id of the audit that closes it (GET /api/machines/{id}/reconciliation)'],
      ['--settle-s S', "s after the closing audit before its sales count as complete (default 300, as the gateway's AUDIT_SETTLE_S)"],
    ],
  },
}

const COMMON = `Output: readable text on a terminal; one JSON object when piped or with --json.
Database: DATABASE_URL, or the embedded database of a running npm start in DATA_DIR (default ./data).`

const column = (rows: [string, string][]) => {
  const width = Math.max(...rows.map(([a]) => a.length))
  return rows.map(([a, b]) => `  ${a.padEnd(width)}  ${b}`).join('\n')
}

export function toolHelp(): string {
  const commands = Object.entries(COMMAND_HELP).map(([name, h]): [string, string] => [name, h.summary])
  return `usage: npm run fleet -- <command> [options] [--json]

Provisioning and checks of kassas and machines.

Commands:
${column(commands)}

npm run fleet -- <command> --help lists a command's options.
${COMMON}`
}

export function commandHelp(command: FleetCommand): string {
  const h = COMMAND_HELP[command]
  return `usage: npm run fleet -- ${h.usage} [--json]

${h.summary[0]!.toUpperCase()}${h.summary.slice(1)}.
${h.options.length > 0 ? `\nOptions:\n${column(h.options)}\n` : ''}
${COMMON}`
}
