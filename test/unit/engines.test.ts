import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import semver from 'semver'
import { describe, expect, it } from 'vitest'

// package.json promises a Node version; every installed package (nested ones too) must run on the
// oldest Node it admits, and so must the Docker image's base.
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } }
const oldest = semver.minVersion(pkg.engines.node)!.version

function installed(dir: string): { name: string; version: string; node: string | undefined }[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir).flatMap((entry) => {
    if (entry.startsWith('.')) return []
    if (entry.startsWith('@')) return readdirSync(join(dir, entry)).flatMap((sub) => one(join(dir, entry, sub)))
    return one(join(dir, entry))
  })
}

function one(path: string): { name: string; version: string; node: string | undefined }[] {
  const file = join(path, 'package.json')
  if (!existsSync(file)) return []
  const p = JSON.parse(readFileSync(file, 'utf8')) as { name: string; version: string; engines?: { node?: string } }
  return [{ name: p.name, version: p.version, node: p.engines?.node }, ...installed(join(path, 'node_modules'))]
}

describe('engines', () => {
  it(`installs only packages that run on Node ${oldest}, the oldest package.json admits`, () => {
    expect(semver.major(oldest)).toBe(20)
    const all = installed('node_modules')
    expect(all.length).toBeGreaterThan(100)
    const refusing = all.filter((p) => p.node !== undefined && !semver.satisfies(oldest, p.node, { includePrerelease: true }))
      .map((p) => `${p.name}@${p.version} wants node ${p.node}`)
    expect(refusing).toEqual([])
  })

  it('builds the image on a Node the engines admit', () => {
    const from = /^FROM node:(\d+)/m.exec(readFileSync('Dockerfile', 'utf8'))
    expect(from, 'Dockerfile FROM node:<major>').not.toBeNull()
    expect(semver.intersects(`${from![1]}.x`, pkg.engines.node)).toBe(true)
  })
})
