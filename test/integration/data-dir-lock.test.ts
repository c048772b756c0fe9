import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { acquireDataDir, DataDirBusyError, findHolder, removeStaleLock, type LockMechanism } from '../../gateway/db/data-dir.lock.js'
import { waitFor } from '../support/wait.js'

const root = mkdtempSync(join(tmpdir(), 'vt-lock-'))
let n = 0
const freshDir = () => join(root, `data-${++n}`)
const children: ChildProcess[] = []

/** A separate process holding `dir`, ready when it has said so. */
async function holdInChild(dir: string, mechanism: LockMechanism, busy = false): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/data-dir-holder.ts', dir, mechanism, ...(busy ? ['busy'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  let out = ''
  child.stdout!.on('data', (chunk: Buffer) => { out += chunk.toString() })
  await waitFor(() => out.includes('held') || child.exitCode !== null, 'the holder to take the lock', 30_000)
  expect(child.exitCode).toBeNull()
  return child
}

async function sigkill(child: ChildProcess): Promise<void> {
  const gone = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await gone
}

afterEach(async () => {
  await Promise.all(children.splice(0).filter((c) => c.exitCode === null && c.signalCode === null).map(sigkill))
})
afterAll(() => rmSync(root, { recursive: true, force: true }))

describe.each(['abstract-socket', 'lock-file'] as const)('the data directory lock (%s)', (mechanism) => {
  it('refuses a second taker, naming the holder and the ports it announced, until the holder releases', async () => {
    const dir = freshDir()
    const lock = await acquireDataDir(dir, 'npm start', mechanism)
    lock.announce({ mqttPort: 1884, httpPort: 8081, dbPort: 5433 })
    const refusal = await acquireDataDir(dir, 'npm run gateway', mechanism).catch((err: unknown) => err)
    expect(refusal).toBeInstanceOf(DataDirBusyError)
    expect((refusal as DataDirBusyError).holder).toEqual({ pid: process.pid, role: 'npm start', mqttPort: 1884, httpPort: 8081, dbPort: 5433 })
    expect((refusal as Error).message).toBe(`DATA_DIR ${dir} is in use by process ${process.pid} (npm start, MQTT 1884, HTTP 8081, database 127.0.0.1:5433)`)
    expect(await findHolder(dir, mechanism)).toMatchObject({ pid: process.pid, dbPort: 5433 })

    await lock.release()
    expect(await findHolder(dir, mechanism)).toBeNull()
    const again = await acquireDataDir(dir, 'npm run gateway', mechanism)
    await again.release()
  })

  it('is free again after its holder is killed with SIGKILL', async () => {
    const dir = freshDir()
    const child = await holdInChild(dir, mechanism)
    expect(await findHolder(dir, mechanism)).toEqual({ pid: child.pid, role: 'test holder', httpPort: 8081, dbPort: 5433 })
    await expect(acquireDataDir(dir, 'npm start', mechanism)).rejects.toThrow(`is in use by process ${child.pid} (test holder, HTTP 8081, database 127.0.0.1:5433)`)

    await sigkill(child)
    expect(await findHolder(dir, mechanism)).toBeNull()
    const lock = await acquireDataDir(dir, 'npm start', mechanism)
    expect(await findHolder(dir, mechanism)).toMatchObject({ pid: process.pid, role: 'npm start' })
    await lock.release()
  })

  it('is the same lock whichever path names the directory (relative, trailing slash, symlink)', async () => {
    const dir = freshDir()
    mkdirSync(dir)
    const link = `${dir}-link`
    symlinkSync(dir, link)
    const lock = await acquireDataDir(dir, 'npm start', mechanism)
    for (const other of [`${dir}/`, link, join(dir, '..', `data-${n}`)]) {
      await expect(acquireDataDir(other, 'npm start', mechanism)).rejects.toBeInstanceOf(DataDirBusyError)
    }
    await lock.release()
  })
})

describe('the abstract-socket lock', () => {
  it('creates nothing: a directory that does not exist still does not after it is taken', async () => {
    const dir = freshDir()
    const lock = await acquireDataDir(dir, 'npm start', 'abstract-socket')
    expect(existsSync(dir)).toBe(false)
    await lock.release()
  })

  it('counts a holder too busy to answer as a holder: findHolder and a second taker refuse, neither says it is free', async () => {
    const dir = freshDir()
    const child = await holdInChild(dir, 'abstract-socket', true)
    const found = await findHolder(dir, 'abstract-socket', 300).catch((err: unknown) => err)
    expect(found).toBeInstanceOf(DataDirBusyError)
    expect((found as DataDirBusyError).holder).toBeNull()
    await expect(acquireDataDir(dir, 'npm start', 'abstract-socket')).rejects.toThrow('is in use by another process (it did not say which)')
    await sigkill(child)
    expect(await findHolder(dir, 'abstract-socket', 300)).toBeNull()
  })
})

describe('the lock-file fallback', () => {
  it('takes over a lock file whose process is gone, and never removes one another process has taken over', async () => {
    const dir = freshDir()
    const file = join(root, `.data-${n}.lock`)
    const child = await holdInChild(dir, 'lock-file')
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ pid: child.pid })
    await sigkill(child)
    expect(existsSync(file)).toBe(true) // what a kill leaves behind

    const lock = await acquireDataDir(dir, 'npm start', 'lock-file')
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ pid: process.pid, role: 'npm start' })
    // Another process's lock in its place (as if this one had been taken over): release leaves it.
    writeFileSync(file, JSON.stringify({ pid: 1, role: 'init' }))
    await lock.release()
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ pid: 1, role: 'init' })
  })

  it('removes a stale lock only while it is the one that was read: a lock another start took meanwhile is put back', () => {
    const file = join(root, '.race.lock')
    const stale = JSON.stringify({ pid: 2 ** 22 + 1, role: 'npm start' })
    const fresh = JSON.stringify({ pid: process.pid, role: 'npm run gateway' })
    // Two starts read the same stale file; the first took it over and linked its own lock in.
    writeFileSync(file, fresh)
    removeStaleLock(file, stale) // the second start, late
    expect(readFileSync(file, 'utf8')).toBe(fresh)
    writeFileSync(file, stale)
    removeStaleLock(file, stale)
    expect(existsSync(file)).toBe(false)
    removeStaleLock(file, stale) // already gone: nothing to do
    expect(readdirSync(root).filter((f) => f.startsWith('.race.lock'))).toEqual([])
  })
})
