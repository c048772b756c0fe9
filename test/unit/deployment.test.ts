import { existsSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { BROKER_ENV_NAMES } from '../../broker/config.js'
import { GATEWAY_ENV_NAMES } from '../../gateway/config.js'

// docker-compose cannot run on the CI machine (no Docker engine), so it is checked statically:
// every command names a real script, every variable is one the configs read.
const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as {
  services: Record<string, { build?: string; image?: string; command?: string[]; environment?: Record<string, string>; profiles?: string[] }>
}
const scripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts
const SIM_ENV = ['MQTT_URL', 'MQTT_TOPIC_PREFIX']
const KNOWN = new Set([...GATEWAY_ENV_NAMES, ...BROKER_ENV_NAMES, ...SIM_ENV])
const ours = Object.entries(compose.services).filter(([, s]) => s.build !== undefined)

describe('docker-compose.yml', () => {
  it('has postgres, broker and gateway services and a sim profile', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['broker', 'gateway', 'postgres', 'sim'])
    expect(compose.services.sim!.profiles).toEqual(['sim'])
    expect(compose.services.postgres!.image).toMatch(/^postgres:/)
  })

  it('builds our services from the Dockerfile, which copies every part', () => {
    expect(existsSync('Dockerfile')).toBe(true)
    const dockerfile = readFileSync('Dockerfile', 'utf8')
    for (const dir of ['protocol', 'broker', 'gateway', 'device-sim', 'scripts']) expect(dockerfile).toContain(`COPY ${dir} ./${dir}`)
    expect(ours.map(([name]) => name).sort()).toEqual(['broker', 'gateway', 'sim'])
  })

  it('runs only npm scripts that exist', () => {
    for (const [name, service] of ours) {
      const command = (service.command ?? []).join(' ')
      const used = [...command.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]!)
      expect(used.length, `${name} runs an npm script`).toBeGreaterThan(0)
      for (const script of used) expect(scripts[script], `${name}: npm run ${script}`).toBeDefined()
    }
  })

  it('sets only environment variables the configuration reads', () => {
    for (const [name, service] of ours) {
      for (const key of Object.keys(service.environment ?? {})) expect(KNOWN.has(key), `${name}: ${key}`).toBe(true)
    }
  })
})
