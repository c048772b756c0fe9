// ATOL writes times as `dd.mm.yyyy HH:MM:SS` wall-clock time with no zone. The request `timestamp`
// and the report's `receipt_datetime` (tag 1012) are the kassa's local time, and 1012 must be in the
// zone of the place of settlement (docs/fiscal.md §1.4), so every conversion takes the kassa's IANA zone.

export interface WallClock {
  year: number
  month: number
  day: number
  hour: number
  minute: number
  second: number
}

// Building an Intl.DateTimeFormat costs tens of µs; one per zone is reused (a pure memo, no state).
const formatters = new Map<string, Intl.DateTimeFormat>()

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone)
  if (!f) {
    // hourCycle h23: midnight is 00, never 24.
    f = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit',
    })
    formatters.set(timeZone, f)
  }
  return f
}

/** The wall clock in `timeZone` at `date`. Throws RangeError for an unknown zone. */
export function wallClock(date: Date, timeZone: string): WallClock {
  const parts: Record<string, number> = {}
  for (const p of formatter(timeZone).formatToParts(date)) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value)
  }
  return {
    year: parts.year ?? 0, month: parts.month ?? 0, day: parts.day ?? 0,
    hour: parts.hour ?? 0, minute: parts.minute ?? 0, second: parts.second ?? 0,
  }
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0')

/** 2026-11-28T12:21:05Z in Europe/Moscow → `28.11.2026 15:21:05`. */
export function formatAtolDateTime(date: Date, timeZone: string): string {
  const w = wallClock(date, timeZone)
  return `${pad(w.day)}.${pad(w.month)}.${pad(w.year, 4)} ${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}`
}

const ATOL_DATE_TIME = /^(\d{2})\.(\d{2})\.(\d{4}) (\d{2}):(\d{2}):(\d{2})$/

/** `28.11.2026 15:21:05` → its fields; null when malformed or not a real calendar time. */
export function parseAtolWallClock(text: string): WallClock | null {
  const m = ATOL_DATE_TIME.exec(text)
  if (!m) return null
  const [day, month, year, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number]
  const utc = new Date(Date.UTC(year, month - 1, day, hour, minute, second))
  // Date.UTC rolls 31.02 over into March; a rolled-over field means the text was not a real date.
  if (utc.getUTCDate() !== day || utc.getUTCMonth() !== month - 1 || hour > 23 || minute > 59 || second > 59) return null
  return { year, month, day, hour, minute, second }
}

function offsetMs(instant: number, timeZone: string): number {
  const w = wallClock(new Date(instant), timeZone)
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - Math.floor(instant / 1000) * 1000
}

/**
 * `28.11.2026 15:21:05` read as wall-clock time in `timeZone` → the instant. Null when malformed.
 * Russia has had no DST since 2014; for zones that do, an ambiguous time resolves to one of its two
 * instants and a time in a spring-forward gap to the instant one offset later.
 */
export function parseAtolDateTime(text: string, timeZone: string): Date | null {
  const w = parseAtolWallClock(text)
  if (!w) return null
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second)
  const first = asUtc - offsetMs(asUtc, timeZone)
  return new Date(asUtc - offsetMs(first, timeZone))
}

/** `28.11.2026 15:21:05` → `20261128T1521`: the FNS QR `t` (minutes; seconds are optional there). */
export function qrTimeFromAtol(text: string): string | null {
  const w = parseAtolWallClock(text)
  return w ? `${pad(w.year, 4)}${pad(w.month)}${pad(w.day)}T${pad(w.hour)}${pad(w.minute)}` : null
}
