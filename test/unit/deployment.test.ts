import { existsSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { BROKER_ENV_NAMES, loadBrokerConfig } from '../../broker/config.js'
import { loadSimEnv, SIM_ENV_NAMES } from '../../device-sim/config.js'
import { GATEWAY_ENV_NAMES, loadGatewayConfig } from '../../gateway/config.js'

// docker-compose cannot run on the CI machine (no Docker engine), so it is checked statically here,
// and test/e2e/image-replay.test.ts replays the image's build steps and commands.
interface Service {
  build?: string; image?: string; command?: string[]; environment?: Record<string, string>; profiles?: string[]
  ports?: string[]; volumes?: string[]; restart?: string
  healthcheck?: { test: string[] }
  depends_on?: Record<string, { condition: string }> | string[]
}
const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> }
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string>; dependencies: Record<string, string> }
const dockerfile = readFileSync('Dockerfile', 'utf8')
const KNOWN = new Set([...GATEWAY_ENV_NAMES, ...BROKER_ENV_NAMES, ...SIM_ENV_NAMES])
const ours = Object.entries(compose.services).filter(([, s]) => s.build !== undefined)
const services = compose.services
/** The environment as compose would hand it over, `${VAR:?…}` filled in as a user must, and the image's NODE_ENV. */
const envOf = (s: Service) => ({
  NODE_ENV: 'production',
  ...Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, v.replace(/\$\{(\w+)(?::([?-])([^}]*))?\}/g,
    (_m, name: string, kind?: string, fallback?: string) => (kind === '-' ? fallback! : `compose-test-${name.toLowerCase()}-0123456789`))])),
})
const oneShot = (name: string) => services[name]!.restart === 'no'

describe('docker-compose.yml', () => {
  it('has postgres, broker and gateway services, a provisioning step and a fleet in the sim profile, and a cluster profile', () => {
    expect(Object.keys(services).sort()).toEqual([
      'broker', 'broker-1', 'broker-2', 'gateway', 'gateway-1', 'gateway-2', 'haproxy', 'postgres', 'provision', 'redis', 'sim',
    ])
    expect(services.sim!.profiles).toEqual(['sim'])
    expect(services.provision!.profiles).toEqual(['sim'])
    expect(services.postgres!.image).toMatch(/^postgres:/)
  })

  it('checks the health of every long-running service, the gateway on /readyz', () => {
    for (const [name, s] of Object.entries(services)) {
      if (oneShot(name)) continue
      expect(s.healthcheck?.test.length, `${name} has a healthcheck`).toBeGreaterThan(0)
    }
    expect(services.gateway!.healthcheck!.test.join(' ')).toContain('http://127.0.0.1:8080/readyz')
    expect(services.broker!.healthcheck!.test.join(' ')).toContain('connect(1883')
  })

  it('starts each service after what it needs is healthy (or, for the one-shot, done)', () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.depends_on === undefined) continue
      expect(Array.isArray(s.depends_on), `${name}: depends_on with conditions`).toBe(false)
      for (const [dep, { condition }] of Object.entries(s.depends_on as Record<string, { condition: string }>)) {
        expect(condition, `${name} → ${dep}`).toBe(oneShot(dep) ? 'service_completed_successfully' : 'service_healthy')
      }
    }
    expect(Object.keys(services.gateway!.depends_on!)).toEqual(['postgres', 'broker'])
    expect(Object.keys(services.sim!.depends_on!)).toEqual(['provision', 'gateway'])
  })

  it('publishes MQTT on 1883, WebSocket on a port of its own, and keeps 8883 for TLS', () => {
    const broker = services.broker!
    expect(broker.environment!.MQTT_PORT).toBe('1883')
    expect(broker.ports).toContain('1883:1883')
    const ws = broker.environment!.MQTT_WS_PORT
    expect(ws).toBeDefined()
    expect(ws).not.toBe('8883')
    expect(broker.ports).toContain(`${ws}:${ws}`)
    if (broker.environment!.MQTT_TLS_PORT !== undefined) expect(broker.environment!.MQTT_TLS_PORT).toBe('8883')
  })

  it('gives the simulator credentials that the provisioning step writes to a shared volume', () => {
    const out = services.provision!.command!.join(' ').match(/--out (\S+)/)?.[1]
    const read = services.sim!.command!.join(' ').match(/--credentials (\S+)/)?.[1]
    expect(out).toBeDefined()
    expect(read).toBe(out)
    const volume = (s: Service) => s.volumes?.map((v) => v.split(':')).find(([, path]) => out!.startsWith(`${path}/`))?.[0]
    expect(volume(services.provision!)).toBeDefined()
    expect(volume(services.sim!)).toBe(volume(services.provision!))
    expect(compose.volumes).toHaveProperty(volume(services.sim!)!)
    expect(dockerfile).toMatch(/mkdir \/fleet && chown node:node \/fleet/) // a new volume takes the image directory's owner
  })

  it('starts every part under NODE_ENV=production with the environment compose gives it', () => {
    expect(dockerfile).toMatch(/^ENV NODE_ENV=production$/m)
    expect(() => loadGatewayConfig(envOf(services.gateway!))).not.toThrow()
    expect(() => loadGatewayConfig(envOf(services.provision!))).not.toThrow() // demo:provision reads the gateway's config
    expect(() => loadBrokerConfig(envOf(services.broker!), { standalone: true })).not.toThrow()
    expect(loadSimEnv(envOf(services.sim!)).mqttUrl).toBe('mqtt://broker:1883')
  })

  it('builds our services from the Dockerfile, which copies every part and runs TypeScript with a production dependency', () => {
    for (const dir of ['protocol', 'broker', 'gateway', 'device-sim', 'scripts']) expect(dockerfile).toContain(`COPY ${dir} ./${dir}`)
    expect(dockerfile).toMatch(/^COPY package\.json package-lock\.json \.npmrc \.\/$/m)
    expect(dockerfile).toContain('npm ci --omit=dev')
    expect(pkg.dependencies.tsx).toBeDefined()
    for (const [, s] of ours) for (const script of (s.command ?? []).join(' ').matchAll(/npm run ([\w:-]+)/g)) expect(pkg.scripts[script[1]!]).toMatch(/^tsx /)
    expect(ours.map(([name]) => name).sort()).toEqual(['broker', 'broker-1', 'broker-2', 'gateway', 'gateway-1', 'gateway-2', 'provision', 'sim'])
  })

  it('keeps the build context small and free of secrets', () => {
    expect(existsSync('.dockerignore')).toBe(true)
    const ignored = readFileSync('.dockerignore', 'utf8').split('\n').map((l) => l.trim())
    for (const entry of ['node_modules', '.git', 'data', '*.credentials.json']) expect(ignored).toContain(entry)
  })

  it('runs only npm scripts that exist', () => {
    for (const [name, service] of ours) {
      const command = (service.command ?? []).join(' ')
      const used = [...command.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]!)
      expect(used.length, `${name} runs an npm script`).toBeGreaterThan(0)
      for (const script of used) expect(pkg.scripts[script], `${name}: npm run ${script}`).toBeDefined()
    }
  })

  it('sets only environment variables the configuration reads', () => {
    for (const [name, service] of ours) {
      for (const key of Object.keys(service.environment ?? {})) expect(KNOWN.has(key), `${name}: ${key}`).toBe(true)
    }
  })

  it('is documented in the README, fleet commands in a running deployment included', () => {
    const readme = readFileSync('README.md', 'utf8')
    expect(readme).toContain('docker compose exec gateway npm run fleet -- ')
    expect(readme).toContain('docker compose --profile sim up')
  })

  it('has a cluster profile: Redis, HAProxy in front of two brokers on that Redis, two gateways on distinct brokers and ports', () => {
    const cluster = Object.entries(services).filter(([, s]) => s.profiles?.includes('cluster')).map(([name]) => name).sort()
    expect(cluster).toEqual(['broker-1', 'broker-2', 'gateway-1', 'gateway-2', 'haproxy', 'redis'])
    for (const name of ['broker-1', 'broker-2']) {
      const broker = services[name]!
      expect(broker.command).toEqual(['npm', 'run', 'broker'])
      expect(broker.environment?.REDIS_URL).toBe('redis://redis:6379')
      expect(broker.environment?.DATABASE_URL).toMatch(/@postgres:5432\//)
    }
    const gateways = ['gateway-1', 'gateway-2'].map((n) => services[n]!)
    expect(gateways.map((g) => g.environment?.MQTT_URL)).toEqual(['mqtt://broker-1:1883', 'mqtt://broker-2:1883'])
    expect(new Set(gateways.map((g) => g.environment?.GATEWAY_ID)).size).toBe(2)
    expect(new Set(gateways.flatMap((g) => g.ports ?? [])).size).toBe(2)

    const haproxy = services.haproxy!
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
