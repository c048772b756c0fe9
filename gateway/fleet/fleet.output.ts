import type { FleetCommand } from './fleet.args.js'

// Readable text for a terminal. Scripts get the JSON object instead (`--json`, or stdout not a
// terminal), which is the stable form.

type Row = Record<string, unknown>

function cell(value: unknown): string {
  if (value === null || value === undefined) return '-'
  if (value instanceof Date) return value.toISOString()
  if (typeof value === 'object') return JSON.stringify(value)
  return String(value)
}

/** Rows as aligned columns under a header. */
export function table(rows: readonly Row[], columns: readonly string[]): string {
  const cells = [columns as string[], ...rows.map((r) => columns.map((c) => cell(r[c])))]
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)))
  return cells.map((line) => line.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n')
}

function fields(output: Row): string {
  const width = Math.max(...Object.keys(output).map((k) => k.length))
  return Object.entries(output).map(([k, v]) => `${k.padEnd(width)}  ${cell(v)}`).join('\n')
}

export function formatHuman(command: FleetCommand, output: unknown): string {
  const o = output as Row
  switch (command) {
    case 'list': {
      const kassas = o.kassas as Row[]
      const machines = o.machines as Row[]
      return `${kassas.length} kassas\n${table(kassas, ['id', 'provider', 'fn', 'next_fd', 'shift_number', 'time_zone', 'name'])}\n\n` +
        `${machines.length} machines\n${table(machines, ['id', 'kassa_id', 'online', 'disabled', 'last_seen_at', 'address', 'place'])}`
    }
    case 'add-machine':
    case 'rotate-secret':
      return `${fields(o)}\nThe secret is shown this once: it is the machine's MQTT password (username and client id: ${cell(o.id)}).`
    case 'import':
      return `imported ${cell(o.imported)} machines; their secrets are in ${cell(o.out)} (mode 0600)\n` +
        `run them: npm run sim -- --credentials ${cell(o.out)}`
    case 'verify': {
      const failures = (o.failures as Row[] | undefined) ?? []
      const { failures: _, ...rest } = o
      return `${o.ok ? 'verified: every document checks out' : 'VERIFY FAILED'}\n${fields(rest)}` +
        (failures.length > 0 ? `\n\n${table(failures, ['fn', 'fd', 'reason'])}` : '')
    }
    default:
      return fields(o)
  }
}
