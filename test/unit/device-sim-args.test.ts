import { describe, expect, it } from 'vitest'
import { parseSimArgs } from '../../device-sim/args.js'
import { loadSimEnv } from '../../device-sim/config.js'
import { numberedMachines } from '../../device-sim/credentials.js'

const env = { mqttUrl: 'mqtt://broker:1883', mqttUrlGiven: true, topicPrefix: 'vending', dataDir: './data' }

describe('npm run sim arguments', () => {
  it('reads the documented flags', () => {
    const parsed = parseSimArgs(
      ['--machines', '100', '--rate', '250.5', '--duration', '30', '--prefix', 'test', '--seed', '7', '--state-file', 's.json', '--json'],
      env,
    )
    expect(parsed).toMatchObject({
      ok: true,
      args: { machines: 100, rate: 250.5, durationS: 30, url: 'mqtt://broker:1883', prefix: 'test', seed: 7, stateFile: 's.json', json: true, idPrefix: 'VM-' },
    })
  })

  it('runs until stopped with --duration 0', () => {
    expect(parseSimArgs(['--duration', '0'], env)).toMatchObject({ ok: true, args: { durationS: Infinity } })
  })

  it('names the flag that is wrong', () => {
    const cases: [string[], RegExp][] = [
      [['--rate', 'fast'], /^--rate: must be a number/],
      [['--machines', '0'], /^--machines: must be at least 1/],
      [['--machines', '2.5'], /^--machines: must be a whole number/],
      [['--url', 'http://x'], /^--url: must be an mqtt/],
      [['--prefix', 'a/b'], /^--prefix:/],
      [['--retry-initial', '5000', '--retry-max', '100'], /^--retry-max:/],
      [['--frobnicate'], /'--frobnicate'/],
      [['--machines'], /'--machines <value>' argument missing/],
    ]
    for (const [argv, problem] of cases) {
      const parsed = parseSimArgs(argv, env)
      expect(parsed.ok).toBe(false)
      if (!parsed.ok) expect(parsed.problems[0]).toMatch(problem)
    }
  })

  it('takes its defaults from MQTT_URL and MQTT_TOPIC_PREFIX, and refuses bad ones by name', () => {
    expect(loadSimEnv({})).toEqual({ mqttUrl: 'mqtt://127.0.0.1:1883', mqttUrlGiven: false, topicPrefix: 'vending', dataDir: './data' })
    expect(loadSimEnv({ MQTT_URL: 'mqtts://b:8883', MQTT_TOPIC_PREFIX: 'shop', DATA_DIR: '/srv/vt' })).toEqual({ mqttUrl: 'mqtts://b:8883', mqttUrlGiven: true, topicPrefix: 'shop', dataDir: '/srv/vt' })
    expect(() => loadSimEnv({ MQTT_URL: 'b:1883' })).toThrow(/MQTT_URL/)
  })

  it('names machines VM-001 … with room for every number', () => {
    expect(numberedMachines('VM-', 3).map((m) => m.id)).toEqual(['VM-001', 'VM-002', 'VM-003'])
    expect(numberedMachines('X', 1200).at(-1)).toEqual({ id: 'X1200', secret: '' })
    expect(numberedMachines('X', 1200)[0]!.id).toBe('X0001')
  })
})
