import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'

// scripts/spread-probe.ts: the measurement behind writing per-document objects field by field.

const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'scripts/spread-probe.ts', ...args], { encoding: 'utf8' })

describe('spread probe', () => {
  it('prints one row of young-generation figures for each way of making the object', () => {
    const out = run('20000')
    expect(out.status).toBe(0)
    const rows = out.stdout.split('\n').filter((l) => /^\| (spread|Object\.assign|field by field)/.test(l))
    expect(rows).toHaveLength(5)
    for (const row of rows) expect(row.split('|').slice(2, 6).map((c) => Number(c.trim())).every(Number.isFinite)).toBe(true)
  })

  it('refuses a count it cannot use, naming it', () => {
    const out = run('many')
    expect(out.status).toBe(2)
    expect(out.stderr).toContain('objects must be a whole number of at least 10000, not "many"')
  })
})
