import { describe, expect, it } from 'vitest'
import { canPublish, canReceive, canSetWill, canSubscribe, machinePayloadLimit, mayRetain, type Identity } from '../../broker/acl.js'

const P = 'vending'
const a: Identity = { kind: 'machine', id: 'VM-A', secretHash: 'h' }
const gateway: Identity = { kind: 'service' }

describe('machine topic rules', () => {
  it('publishes only its own sale, telemetry, status and audit', () => {
    for (const ch of ['sale', 'telemetry', 'status', 'audit']) expect(canPublish(P, a, `vending/VM-A/${ch}`)).toBe(true)
    for (const topic of ['vending/VM-A/display', 'vending/VM-B/sale', 'vending/VM-B/audit', 'vending/VM-A/sale/x', 'other/VM-A/sale',
      '$SYS/x/new/clients', 'vending/+/sale', 'vending/#', 'vending/VM-A', '']) {
      expect(canPublish(P, a, topic), topic).toBe(false)
    }
  })

  it('may send 256 KiB on its own audit topic only; 16 KiB anywhere else, or before the topic is read', () => {
    expect(machinePayloadLimit(P, a, 'vending/VM-A/audit', 16_384)).toBe(262_144)
    for (const topic of ['vending/VM-A/sale', 'vending/VM-B/audit', 'vending/VM-A/audit/x', null]) {
      expect(machinePayloadLimit(P, a, topic, 16_384), String(topic)).toBe(16_384)
    }
    expect(machinePayloadLimit(P, gateway, 'vending/VM-A/audit', 16_384)).toBe(16_384)
  })

  it('subscribes only to its own display, with no wildcards', () => {
    expect(canSubscribe(P, a, 'vending/VM-A/display')).toBe(true)
    for (const filter of ['vending/VM-B/display', 'vending/+/display', 'vending/VM-A/+', 'vending/#', '#', '$SYS/#', 'vending/VM-A/sale']) {
      expect(canSubscribe(P, a, filter), filter).toBe(false)
    }
  })

  it('receives only its own display', () => {
    expect(canReceive(P, a, 'vending/VM-A/display')).toBe(true)
    expect(canReceive(P, a, 'vending/VM-B/display')).toBe(false)
    expect(canReceive(P, a, 'vending/VM-A/sale')).toBe(false)
  })

  it('may leave a will only on its own status topic', () => {
    expect(canSetWill(P, a, 'vending/VM-A/status')).toBe(true)
    expect(canSetWill(P, a, 'vending/VM-B/status')).toBe(false)
    expect(canSetWill(P, a, 'vending/VM-A/sale')).toBe(false)
  })
})

describe('gateway topic rules', () => {
  it('subscribes to every machine with + but never # or $SYS', () => {
    for (const filter of ['vending/+/sale', 'vending/+/telemetry', 'vending/+/status', 'vending/VM-A/sale', 'vending/+/+']) {
      expect(canSubscribe(P, gateway, filter), filter).toBe(true)
    }
    for (const filter of ['vending/#', '#', '$SYS/#', 'vending/+/sale/#', 'other/+/sale', 'vending/+/nope', 'vending/a b/sale']) {
      expect(canSubscribe(P, gateway, filter), filter).toBe(false)
    }
  })

  it('publishes to any display and nothing else', () => {
    expect(canPublish(P, gateway, 'vending/VM-B/display')).toBe(true)
    expect(canPublish(P, gateway, 'vending/VM-B/sale')).toBe(false)
    expect(canPublish(P, gateway, '$SYS/x')).toBe(false)
  })

  it('receives machine topics only', () => {
    expect(canReceive(P, gateway, 'vending/VM-B/sale')).toBe(true)
    expect(canReceive(P, gateway, '$SYS/broker/new/clients')).toBe(false)
  })
})

it('keeps the retain flag only on status', () => {
  expect(mayRetain(P, 'vending/VM-A/status')).toBe(true)
  expect(mayRetain(P, 'vending/VM-A/sale')).toBe(false)
})
