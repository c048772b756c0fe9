import { existsSync, renameSync } from 'node:fs'

// A damaged embedded data directory (a truncated file, a kill in the middle of a write the WAL
// cannot replay) makes PGlite abort with nothing but `RuntimeError: Aborted()` and a WASM stack.
// What PostgreSQL said before it aborted is in its log lines (PGlite's onStderr): that is what the
// user is told, with the directory and the command that moves it aside.

export class DataDirDamagedError extends Error {
  constructor(readonly dataDir: string, readonly problem: string, options?: { cause?: unknown }) {
    super(`DATA_DIR ${dataDir} cannot be opened as a database: ${problem}`, options)
    this.name = 'DataDirDamagedError'
  }
}

// SQLSTATEs of unreadable or corrupt storage: data_corrupted, index_corrupted, io_error, undefined_file.
const DAMAGE_SQLSTATES = new Set(['XX001', 'XX002', '58030', '58P01'])
const DAMAGE_TEXT = /could not (read|open|locate|access)|invalid (page|checkpoint|magic|resource manager)|incorrect checksum|Aborted\(\)/i

/** The most telling line PostgreSQL logged (PANIC, FATAL or ERROR), else the error's own message. */
export function damageProblem(err: unknown, logLines: readonly string[]): string {
  for (let i = logLines.length - 1; i >= 0; i--) {
    const said = /\b(?:PANIC|FATAL|ERROR):\s+(.*)$/.exec(logLines[i]!)
    if (said) return said[1]!.trim()
  }
  const message = err instanceof Error ? err.message : String(err)
  return /Aborted\(\)/.test(message) ? 'the embedded database aborted while opening it' : message
}

/** True when `err` (or an error it was caused by) says the stored files cannot be read. */
export function isStorageDamage(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof DataDirDamagedError) return true
    const code = (e as { code?: unknown }).code
    if ((typeof code === 'string' && DAMAGE_SQLSTATES.has(code)) || DAMAGE_TEXT.test(e.message)) return true
  }
  return false
}

/** The error as a DataDirDamagedError when it is storage damage, else null. */
export function asDataDirDamage(err: unknown, dataDir: string, logLines: readonly string[] = []): DataDirDamagedError | null {
  if (err instanceof DataDirDamagedError) return err
  if (!isStorageDamage(err)) return null
  let inner: unknown = err
  while (inner instanceof Error && inner.cause instanceof Error) inner = inner.cause
  return new DataDirDamagedError(dataDir, damageProblem(inner, logLines), { cause: err })
}

/**
 * Moves the directory aside as `<dir>.aside-<UTC time>` so a fresh one can be made in its place;
 * the caller holds the directory's lock. Returns where it went, or null when there was nothing.
 */
export function setAside(dataDir: string, now = new Date()): string | null {
  if (!existsSync(dataDir)) return null
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  let target = `${dataDir.replace(/[/\\]+$/, '')}.aside-${stamp}`
  for (let n = 2; existsSync(target); n++) target = `${target.replace(/~\d+$/, '')}~${n}`
  renameSync(dataDir, target)
  return target
}
