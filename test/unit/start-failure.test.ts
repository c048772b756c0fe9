import { describe, expect, it } from 'vitest'
import { describeStartFailure } from '../../protocol/start-failure.js'

const errno = (message: string, fields: Record<string, unknown>) => Object.assign(new Error(message), fields)

describe('the start failure line', () => {
  it('names the process holding a taken port through the lookup it is given, and the variable that moves the port', () => {
    const taken = errno('listen EADDRINUSE: address already in use :::8080', { code: 'EADDRINUSE', port: 8080, syscall: 'listen' })
    const lines = describeStartFailure(taken, {
      debug: false, advice: { ports: { 8080: 'HTTP_PORT' } },
      portOwner: (port) => (port === 8080 ? { pid: 4242, command: 'node other.js' } : null),
    })
    expect(lines).toBe('cannot start: port 8080 is taken by pid 4242 (node other.js)\n  stop that process, or set HTTP_PORT to a free port')
    expect(describeStartFailure(taken, { debug: false })).toBe('cannot start: port 8080 is taken\n  stop that process, or choose another port')
  })

  it('says what failed and its innermost cause on one line, the advice on the next, the stacks only with debug', () => {
    const refused = errno('connect ECONNREFUSED 127.0.0.1:5999', { code: 'ECONNREFUSED', address: '127.0.0.1', port: 5999 })
    const err = new Error('GW_ERR_MIGRATION: migrations failed', { cause: new AggregateError([refused], 'connect failed') })
    const advice = { refused: 'is PostgreSQL running there?' }
    expect(describeStartFailure(err, { debug: false, advice })).toBe('cannot start: GW_ERR_MIGRATION: migrations failed: ECONNREFUSED 127.0.0.1:5999\n  is PostgreSQL running there?')
    const debug = describeStartFailure(err, { debug: true, advice }).split('\n')
    expect(debug.length).toBeGreaterThan(2)
    expect(debug[2]).toBe('Error: GW_ERR_MIGRATION: migrations failed')
    expect(debug.some((l) => l.startsWith('AggregateError: connect failed'))).toBe(true)
  })

  it('advises creating a database that does not exist (SQLSTATE 3D000)', () => {
    const missing = errno('database "vending_x" does not exist', { code: '3D000' })
    expect(describeStartFailure(missing, { debug: false })).toBe('cannot start: database "vending_x" does not exist\n  create it (createdb NAME, or CREATE DATABASE) or point DATABASE_URL at one that exists')
  })
})
