import { EventEmitter } from 'node:events'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { logConnection } from '../../gateway/mqtt/connection-log.js'

function setup() {
  const lines: { level: number; msg: string; failedAttempts?: number; downS?: number }[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line)) } })
  const client = new EventEmitter()
  let t = 0
  logConnection(client, { logger, name: 'ingest', url: 'mqtt://b:1883', now: () => t })
  const refused = () => client.emit('error', Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:1883'), { code: 'ECONNREFUSED' }))
  return { lines, client, refused, advance: (ms: number) => { t += ms } }
}

describe('broker connection log', () => {
  it('logs an outage once when lost, once a minute while it lasts, and once when back', () => {
    const { lines, client, refused, advance } = setup()
    client.emit('connect')
    client.emit('close')
    // mqtt.js retries every 500 ms: 150 s of failures is 300 errors and closes.
    for (let i = 0; i < 300; i++) {
      advance(500)
      refused()
      client.emit('close')
    }
    client.emit('connect')
    expect(lines.map((l) => l.msg)).toEqual([
      'connected to the broker',
      'broker connection lost; reconnecting (logged again once a minute while it lasts)',
      'broker still unreachable', // at 60 s
      'broker still unreachable', // at 120 s
      'broker connection back',
    ])
    expect(lines[4]).toMatchObject({ failedAttempts: 300, downS: 150 })
  })

  it('says once that the broker cannot be reached when the first connect fails, with the cause', () => {
    const { lines, client, refused, advance } = setup()
    for (let i = 0; i < 20; i++) {
      refused()
      client.emit('close')
      advance(500)
    }
    client.emit('connect')
    expect(lines.map((l) => [l.msg, (l as { error?: string }).error])).toEqual([
      ['cannot reach the broker; retrying (logged again once a minute while it lasts)', 'connect ECONNREFUSED 10.0.0.1:1883'],
      ['broker connection back', undefined],
    ])
  })
})
