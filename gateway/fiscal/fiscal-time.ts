// The kassa's clock: tag 1012 and QR `t` are the wall-clock time of the place of settlement
// (docs/fiscal.md §1.4), whatever zone the server runs in. Intl does the zone rules,
// DST included; no extra dependency.

export interface FiscalLocalTime {
  /** ISO 8601 with the zone's offset at that instant: `2026-11-28T15:21:05+03:00`. */
  iso: string
  /** QR `t`: local `YYYYMMDDTHHMM` (the contract's example has no seconds). */
  qrT: string
  /** FFD 1.2 tag 1012: seconds of the local wall-clock time written as if it were UTC. */
  unixLocal: number
}

// Formatters are costly to build and pure to reuse: one per zone.
const formatters = new Map<string, Intl.DateTimeFormat>()

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone)
  if (f === undefined) {
    // hourCycle h23: midnight is 00, never 24. Throws RangeError for an unknown zone.
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit',
    })
    formatters.set(timeZone, f)
  }
  return f
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0')

// formatToParts is the slow step, and every document of a batch is signed at the same second:
// remember the last answer per zone.
const lastByZone = new Map<string, { utcSeconds: number; time: FiscalLocalTime }>()

/** The instant `date` (truncated to the second) on the wall clock of `timeZone`. */
export function fiscalLocalTime(date: Date, timeZone: string): FiscalLocalTime {
  const utcSeconds = Math.floor(date.getTime() / 1000)
  if (!Number.isFinite(utcSeconds)) throw new RangeError('invalid date')
  const last = lastByZone.get(timeZone)
  if (last !== undefined && last.utcSeconds === utcSeconds) return { ...last.time }
  const time = computeLocalTime(utcSeconds, timeZone)
  lastByZone.set(timeZone, { utcSeconds, time })
  return { ...time }
}

function computeLocalTime(utcSeconds: number, timeZone: string): FiscalLocalTime {
  const parts: Record<string, number> = {}
  for (const p of formatterFor(timeZone).formatToParts(new Date(utcSeconds * 1000))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value)
  }
  const [y, mo, d, h, mi, s] = ['year', 'month', 'day', 'hour', 'minute', 'second'].map((k) => parts[k] ?? 0) as [
    number, number, number, number, number, number,
  ]
  const unixLocal = Date.UTC(y, mo - 1, d, h, mi, s) / 1000
  const offsetMin = (unixLocal - utcSeconds) / 60
  const sign = offsetMin < 0 ? '-' : '+'
  const abs = Math.abs(offsetMin)
  const date8 = `${pad(y, 4)}${pad(mo)}${pad(d)}`
  return {
    iso: `${pad(y, 4)}-${pad(mo)}-${pad(d)}T${pad(h)}:${pad(mi)}:${pad(s)}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`,
    qrT: `${date8}T${pad(h)}${pad(mi)}`,
    unixLocal,
  }
}
