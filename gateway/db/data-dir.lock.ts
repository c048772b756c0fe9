import { createHash } from 'node:crypto'
import { linkSync, mkdirSync, readFileSync, realpathSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import { connect, createServer, type Server } from 'node:net'
import { basename, dirname, join, resolve } from 'node:path'

// An embedded data directory belongs to one process at a time: two PGlite instances on the same
// files each keep their own idea of the FN's next document number and sign the same numbers twice.
//
// On Linux the lock is a listening Unix socket in the abstract namespace, named after the
// directory's real path. Exactly one process can bind a name; the kernel frees it when that process
// ends, however it ends (SIGKILL included), and it is no file, so taking it opens nothing in the
// directory. The holder answers on it with who it is: the refusal names it, and `npm run fleet`
// finds the holder's database port there. Limit: abstract names are per network namespace, so two
// containers with their own networks sharing one directory do not see each other's lock.
//
// Elsewhere (macOS, Windows) there is no such name: the lock is a file created exclusively next to
// the directory (`.<name>.lock`), holding the holder's pid and ports. A lock file that a SIGKILL
// leaves behind is taken over when its pid no longer runs, by moving it aside and removing it only
// if it is the stale file that was read (a lock another start linked meanwhile is put back). This is
// weaker: a reused pid keeps a stale lock until the file is removed by hand, and a third start linking
// its own lock in the instant a wrongly moved one is aside makes the putting back fail.

export interface DataDirHolder {
  pid: number
  /** What the holder is: `npm start`, `npm run gateway`, `npm run fleet`… */
  role: string
  mqttPort?: number
  httpPort?: number
  /** Where the holder serves its embedded database over the PostgreSQL wire protocol (embedded-server.ts). */
  dbPort?: number
}

export type LockMechanism = 'abstract-socket' | 'lock-file'

export interface DataDirLock {
  readonly dataDir: string
  readonly mechanism: LockMechanism
  /** Adds to what the lock tells a process that finds the directory held (ports, once known). */
  announce(info: Partial<Omit<DataDirHolder, 'pid'>>): void
  release(): Promise<void>
}

export class DataDirBusyError extends Error {
  constructor(readonly dataDir: string, readonly holder: DataDirHolder | null) {
    super(`DATA_DIR ${dataDir} is in use by ${describeHolder(holder)}`)
    this.name = 'DataDirBusyError'
  }
}

export function describeHolder(holder: DataDirHolder | null): string {
  if (!holder) return 'another process (it did not say which)'
  const ports = [
    holder.mqttPort !== undefined ? `MQTT ${holder.mqttPort}` : null,
    holder.httpPort !== undefined ? `HTTP ${holder.httpPort}` : null,
    holder.dbPort !== undefined ? `database 127.0.0.1:${holder.dbPort}` : null,
  ].filter(Boolean)
  return `process ${holder.pid} (${[holder.role, ...ports].join(', ')})`
}

export const defaultMechanism = (): LockMechanism => (process.platform === 'linux' ? 'abstract-socket' : 'lock-file')

/** The directory's real path, for a directory that may not exist yet (its nearest existing parent's real path). */
export function canonicalDir(dir: string): string {
  const abs = resolve(dir)
  try {
    return realpathSync(abs)
  } catch {
    const parent = dirname(abs)
    return parent === abs ? abs : join(canonicalDir(parent), basename(abs))
  }
}

const socketName = (dir: string) => `\0vending-gateway/${createHash('sha256').update(canonicalDir(dir)).digest('hex')}`
const lockFile = (dir: string) => { const abs = canonicalDir(dir); return join(dirname(abs), `.${basename(abs)}.lock`) }
const ANSWER_TIMEOUT_MS = 5_000

/** Takes the directory, or throws DataDirBusyError naming the holder. Touches no file inside it. */
export async function acquireDataDir(dataDir: string, role: string, mechanism = defaultMechanism()): Promise<DataDirLock> {
  return mechanism === 'abstract-socket' ? acquireSocket(dataDir, role) : acquireFile(dataDir, role)
}

/**
 * Who holds the directory, or null when no process does. A holder that holds the name but does not
 * answer in time (its event loop busy) still holds it: DataDirBusyError, never null, so no caller
 * takes a held directory for a free one.
 */
export async function findHolder(dataDir: string, mechanism = defaultMechanism(), answerTimeoutMs = ANSWER_TIMEOUT_MS): Promise<DataDirHolder | null> {
  if (mechanism === 'lock-file') return liveFileHolder(lockFile(dataDir))
  const answer = await askSocket(socketName(dataDir), answerTimeoutMs)
  if (answer === null) throw new DataDirBusyError(dataDir, null)
  return answer === 'nobody' ? null : answer
}

async function acquireSocket(dataDir: string, role: string): Promise<DataDirLock> {
  const name = socketName(dataDir)
  let info: DataDirHolder = { pid: process.pid, role }
  for (let attempt = 0; ; attempt++) {
    const server: Server = createServer((socket) => {
      socket.on('error', () => {})
      socket.end(`${JSON.stringify(info)}\n`)
    })
    const bound = await new Promise<boolean>((done, fail) => {
      server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? done(false) : fail(err)))
      server.listen({ path: name }, () => done(true))
    })
    if (bound) {
      // The lock must not keep a process alive that is otherwise done.
      server.unref()
      return {
        dataDir, mechanism: 'abstract-socket',
        announce: (more) => { info = { ...info, ...more } },
        release: () => new Promise<void>((done) => server.close(() => done())),
      }
    }
    const holder = await askSocket(name)
    // The holder ended between our bind and our question: the name is free now.
    if (holder === 'nobody' && attempt < 3) continue
    throw new DataDirBusyError(dataDir, holder === 'nobody' ? null : holder)
  }
}

/** The holder's answer; null when it holds the name but does not answer; 'nobody' when no process holds it. */
function askSocket(name: string, timeoutMs = ANSWER_TIMEOUT_MS): Promise<DataDirHolder | null | 'nobody'> {
  return new Promise((done) => {
    let text = ''
    const socket = connect({ path: name })
    socket.setTimeout(timeoutMs, () => { socket.destroy(); done(null) })
    socket.on('data', (chunk: Buffer) => { text += chunk.toString() })
    socket.on('end', () => done(parseHolder(text)))
    socket.on('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? 'nobody' : null))
  })
}

function parseHolder(text: string): DataDirHolder | null {
  try {
    const parsed = JSON.parse(text) as DataDirHolder
    return Number.isInteger(parsed.pid) ? parsed : null
  } catch {
    return null
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

function readFileHolder(path: string): DataDirHolder | null | 'absent' {
  const text = readText(path)
  return text === null ? 'absent' : parseHolder(text)
}

function liveFileHolder(path: string): DataDirHolder | null {
  const holder = readFileHolder(path)
  return holder !== 'absent' && holder !== null && alive(holder.pid) ? holder : null
}

/**
 * Removes the lock file at `path` only if it still holds `staleText`, the dead holder's lock that was
 * read: it is moved aside (atomic) and compared, and anything else found there, another start's lock
 * taken over meanwhile, is linked back into place.
 */
export function removeStaleLock(path: string, staleText: string): void {
  const aside = `${path}.stale.${process.pid}`
  try {
    renameSync(path, aside)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  try {
    if (readText(aside) !== staleText) linkSync(aside, path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  } finally {
    unlinkSync(aside)
  }
}

async function acquireFile(dataDir: string, role: string): Promise<DataDirLock> {
  const path = lockFile(dataDir)
  mkdirSync(dirname(path), { recursive: true })
  let info: DataDirHolder = { pid: process.pid, role }
  for (let attempt = 0; ; attempt++) {
    // Written aside and linked into place: the lock appears complete or not at all, and link fails if it exists.
    const draft = `${path}.${process.pid}`
    writeFileSync(draft, JSON.stringify(info))
    try {
      linkSync(draft, path)
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    } finally {
      unlinkSync(draft)
    }
    const text = readText(path)
    const holder = text === null ? null : parseHolder(text)
    if (holder !== null && alive(holder.pid)) throw new DataDirBusyError(dataDir, holder)
    // Left behind by a process that is gone (or half-written by one that was killed): take it over.
    if (attempt >= 3) throw new DataDirBusyError(dataDir, null)
    if (text !== null) removeStaleLock(path, text)
  }
  const ours = () => { const h = readFileHolder(path); return h !== 'absent' && h?.pid === process.pid }
  return {
    dataDir, mechanism: 'lock-file',
    announce: (more) => {
      info = { ...info, ...more }
      if (!ours()) return
      writeFileSync(`${path}.${process.pid}`, JSON.stringify(info))
      renameSync(`${path}.${process.pid}`, path)
    },
    // Never removes a lock file that another process has taken over.
    release: async () => { if (ours()) unlinkSync(path) },
  }
}
