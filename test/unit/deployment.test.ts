import { existsSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { BROKER_ENV_NAMES } from '../../broker/config.js'
import { GATEWAY_ENV_NAMES } from '../../gateway/config.js'

// docker-compose cannot run on the CI machine (no Docker engine), so it is checked statically:
// every command names a real script, every variable is one the configs read.
const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as {
  services: Record<string, {
    build?: string; image?: string; command?: string[]; environment?: Record<string, string>; profiles?: string[]
    volumes?: string[]; ports?: string[]; depends_on?: Record<string, unknown> | string[]
  }>
}
const scripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts
const SIM_ENV = ['MQTT_URL', 'MQTT_TOPIC_PREFIX']
const KNOWN = new Set([...GATEWAY_ENV_NAMES, ...BROKER_ENV_NAMES, ...SIM_ENV])
const ours = Object.entries(compose.services).filter(([, s]) => s.build !== undefined)

describe('docker-compose.yml', () => {
  it('has postgres, broker and gateway services and a sim profile', () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      'broker', 'broker-1', 'broker-2', 'gateway', 'gateway-1', 'gateway-2', 'haproxy', 'postgres', 'redis', 'sim',
    ])
    expect(compose.services.sim!.profiles).toEqual(['sim'])
    expect(compose.services.postgres!.image).toMatch(/^postgres:/)
  })

  it('builds our services from the Dockerfile, which copies every part', () => {
    expect(existsSync('Dockerfile')).toBe(true)
    const dockerfile = readFileSync('Dockerfile', 'utf8')
    for (const dir of ['protocol', 'broker', 'gateway', 'device-sim', 'scripts']) expect(dockerfile).toContain(`COPY ${dir} ./${dir}`)
    expect(ours.map(([name]) => name).sort()).toEqual(['broker', 'broker-1', 'broker-2', 'gateway', 'gateway-1', 'gateway-2', 'sim'])
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

  it('has a cluster profile: Redis, HAProxy in front of two brokers on that Redis, two gateways on distinct brokers and ports', () => {
    const cluster = Object.entries(compose.services).filter(([, s]) => s.profiles?.includes('cluster')).map(([name]) => name).sort()
    expect(cluster).toEqual(['broker-1', 'broker-2', 'gateway-1', 'gateway-2', 'haproxy', 'redis'])
    for (const name of ['broker-1', 'broker-2']) {
      const broker = compose.services[name]!
      expect(broker.command).toEqual(['npm', 'run', 'broker'])
      expect(broker.environment?.REDIS_URL).toBe('redis://redis:6379')
      expect(broker.environment?.DATABASE_URL).toMatch(/@postgres:5432\//)
    }
    const gateways = ['gateway-1', 'gateway-2'].map((n) => compose.services[n]!)
    expect(gateways.map((g) => g.environment?.MQTT_URL)).toEqual(['mqtt://broker-1:1883', 'mqtt://broker-2:1883'])
    expect(new Set(gateways.map((g) => g.environment?.GATEWAY_ID)).size).toBe(2)
    expect(new Set(gateways.flatMap((g) => g.ports ?? [])).size).toBe(2)

    const haproxy = compose.services.haproxy!
    expect(haproxy.image).toMatch(/^haproxy:/)
    expect(haproxy.ports).toContain('1883:1883')
    const mount = haproxy.volumes?.find((v) => v.endsWith(':/usr/local/etc/haproxy/haproxy.cfg:ro'))
    expect(mount).toBeDefined()
    const cfg = readFileSync(mount!.split(':')[0]!, 'utf8')
    expect(cfg).toMatch(/^\s*mode tcp$/m)
    expect(cfg).toMatch(/^\s*bind :1883$/m)
    const servers = [...cfg.matchAll(/^\s*server (\S+) (\S+) check$/gm)].map((m) => `${m[1]} ${m[2]}`)
    expect(servers).toEqual(['broker-1 broker-1:1883', 'broker-2 broker-2:1883'])
  })
})
