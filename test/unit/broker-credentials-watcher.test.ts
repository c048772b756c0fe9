import { pino } from 'pino'
import { describe, expect, it, vi } from 'vitest'
import { CHANGE_OVERLAP_MS, createCredentialsWatcher } from '../../broker/credentials.watcher.js'
import type { MachineCredentialsChange } from '../../broker/machine-directory.js'
import { MemoryMachineDirectory } from '../../broker/machine-directory.memory.js'

const logger = pino({ level: 'silent' })

describe('credentials watcher', () => {
  it('reads everything once, then only changes near or after the newest seen', async () => {
    const directory = new MemoryMachineDirectory()
    directory.put('VM-1', { secretHash: 'h1', disabled: false }, new Date('2026-01-01T00:00:00Z'))
    directory.put('VM-2', { secretHash: 'h2', disabled: false }, new Date('2026-06-01T00:00:00Z'))
    const seen: MachineCredentialsChange[] = []
    const spy = vi.spyOn(directory, 'changedSince')
    const watcher = createCredentialsWatcher({ directory, intervalMs: 1_000, onChange: (c) => seen.push(c), logger })

    await watcher.runOnce()
    expect(seen.map((c) => c.id)).toEqual(['VM-1', 'VM-2'])
    expect(spy).toHaveBeenLastCalledWith(new Date(0))

    seen.length = 0
    directory.put('VM-1', { secretHash: 'h1', disabled: true }, new Date('2026-06-01T00:00:05Z'))
    await watcher.runOnce()
    // Asked from the newest change minus the overlap, so a late commit with an older time is not missed.
    expect(spy).toHaveBeenLastCalledWith(new Date(Date.parse('2026-06-01T00:00:00Z') - CHANGE_OVERLAP_MS))
    expect(seen.map((c) => [c.id, c.disabled])).toEqual([['VM-1', true], ['VM-2', false]])
  })

  it('asks from the start of its last poll less the overlap, on the directory\'s clock, so a bulk import is read once', async () => {
    const directory = new MemoryMachineDirectory()
    let now = Date.parse('2026-06-01T00:00:00Z')
    const clocked = Object.assign(directory, { clock: async () => new Date(now) })
    for (let i = 0; i < 100; i++) directory.put(`VM-${i}`, { secretHash: 'h', disabled: false }, new Date(now - 1000))
    const seen: string[] = []
    const watcher = createCredentialsWatcher({ directory: clocked, intervalMs: 1_000, onChange: (c) => seen.push(c.id), logger })
    await watcher.runOnce()
    expect(seen).toHaveLength(100)
    // Within the overlap of the import the rows are seen again (harmless); past it, no more.
    now += 1_000
    await watcher.runOnce()
    now += CHANGE_OVERLAP_MS + 1_000
    await watcher.runOnce()
    seen.length = 0
    now += 1_000
    directory.put('VM-7', { secretHash: 'h2', disabled: false }, new Date(now - 500))
    await watcher.runOnce()
    expect(seen).toEqual(['VM-7'])
  })

  it('warns once while the directory fails, keeps polling, and says when it recovers', async () => {
    const changedSince = vi.fn()
      .mockRejectedValueOnce(new Error('db down')).mockRejectedValueOnce(new Error('db down')).mockResolvedValue([])
    const log = { warn: vi.fn(), info: vi.fn(), debug: vi.fn() }
    const watcher = createCredentialsWatcher({
      directory: { find: vi.fn(), changedSince }, intervalMs: 10, onChange: vi.fn(), logger: log as unknown as typeof logger,
    })
    watcher.start()
    await vi.waitFor(() => expect(changedSince).toHaveBeenCalledTimes(4), { timeout: 2_000, interval: 5 })
    await watcher.stop()
    expect(log.warn).toHaveBeenCalledOnce()
    expect(log.warn).toHaveBeenCalledWith({ err: expect.any(Error) }, expect.stringContaining('could not read'))
    expect(log.info).toHaveBeenCalledWith('machine credentials readable again')
    const calls = changedSince.mock.calls.length
    await new Promise((r) => setTimeout(r, 30))
    expect(changedSince).toHaveBeenCalledTimes(calls) // stopped means stopped
  })
})
