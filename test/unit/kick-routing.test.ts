import { describe, expect, it } from 'vitest'
import { canPublish, canReceive, canSubscribe, type Identity } from '../../broker/acl.js'
import {
  LiveGateways, addressedKickGateway, decodeGatewayAlive, decodeStoredKick, encodeGatewayAlive, encodeStoredKick, gatewayAliveTopic, kassaOwner,
  kickAddressees, storedKickTopic, type StoredSale,
} from '../../protocol/index.js'

const KASSAS = Array.from({ length: 300 }, (_, i) => `K-${i}`)

describe('kick routing: one gateway per kassa', () => {
  it('gives every kassa one owner, the same from any order of the live set, and spreads them', () => {
    const gateways = ['gw1', 'gw2', 'gw3']
    const counts = new Map<string, number>()
    for (const k of KASSAS) {
      const owner = kassaOwner(k, gateways)!
      expect(kassaOwner(k, [...gateways].reverse())).toBe(owner)
      counts.set(owner, (counts.get(owner) ?? 0) + 1)
    }
    expect([...counts.keys()].sort()).toEqual(gateways)
    for (const n of counts.values()) expect(n).toBeGreaterThan(60) // 100 each on average
    expect(kassaOwner('K-1', [])).toBeUndefined()
  })

  it('moves only the kassas of a gateway that leaves, and only to the others', () => {
    const before = new Map(KASSAS.map((k) => [k, kassaOwner(k, ['gw1', 'gw2', 'gw3'])]))
    for (const k of KASSAS) {
      const after = kassaOwner(k, ['gw1', 'gw3'])
      if (before.get(k) !== 'gw2') expect(after, k).toBe(before.get(k))
      else expect(['gw1', 'gw3']).toContain(after)
    }
  })

  it('addresses a kick to each kassa\'s owner, to every gateway when none is known, and also to the next owner when the first went quiet', () => {
    const healthy = kickAddressees(KASSAS.slice(0, 20), ['gw1', 'gw2'], () => false)
    expect([...healthy.values()].flat().sort()).toEqual(KASSAS.slice(0, 20).sort())
    for (const [owner, ids] of healthy) for (const id of ids) expect(kassaOwner(id, ['gw1', 'gw2'])).toBe(owner)
    expect([...kickAddressees(['K-1', 'K-2'], [], () => false)]).toEqual([[null, ['K-1', 'K-2']]])
    // gw2 silent: its kassas go to it and to their owner among gw1 and gw3; the others' once.
    const quiet = kickAddressees(KASSAS, ['gw1', 'gw2', 'gw3'], (id) => id === 'gw2')
    for (const k of KASSAS) {
      const to = [...quiet].filter(([, ids]) => ids.includes(k)).map(([gw]) => gw).sort()
      const owner = kassaOwner(k, ['gw1', 'gw2', 'gw3'])!
      expect(to, k).toEqual(owner === 'gw2' ? ['gw2', kassaOwner(k, ['gw1', 'gw3'])!].sort() : [owner])
    }
  })

  it('holds a gateway live until its heartbeats stop for the TTL, drops a leaving one at once, and always counts itself', () => {
    let t = 0
    const live = new LiveGateways({ self: 'gw1', ttlMs: 3000, suspectMs: 400, now: () => t })
    expect(live.list()).toEqual(['gw1'])
    live.seen('gw2')
    live.seen('gw3')
    expect(live.list()).toEqual(['gw1', 'gw2', 'gw3'])
    t = 2000
    live.seen('gw3')
    t = 3500
    expect(live.list()).toEqual(['gw1', 'gw3'])
    live.seen('gw3', true)
    expect(live.list()).toEqual(['gw1'])
    expect(KASSAS.every((k) => live.owns(k))).toBe(true)
    live.seen('gw4')
    t = 3800
    expect(live.suspect('gw4')).toBe(false)
    t = 4000
    expect([live.suspect('gw4'), live.suspect('gw1'), live.list()]).toEqual([true, false, ['gw1', 'gw4']])
    expect(new LiveGateways().owns('K-1')).toBe(false)
  })

  it('names the addressed gateway of a kick topic and reads heartbeats, refusing anything else', () => {
    expect(storedKickTopic('vending', 'gw-2')).toBe('vending/$gateway/stored/gw-2')
    expect(addressedKickGateway('vending', 'vending/$gateway/stored/gw-2')).toBe('gw-2')
    for (const topic of ['vending/$gateway/stored', 'vending/$gateway/stored/', 'vending/$gateway/stored/a/b', 'vending/$gateway/stored/+', 'x/$gateway/stored/gw']) {
      expect(addressedKickGateway('vending', topic), topic).toBeNull()
    }
    expect(decodeGatewayAlive(encodeGatewayAlive('gw1'))).toEqual({ id: 'gw1', leaving: false })
    expect(decodeGatewayAlive(encodeGatewayAlive('gw1', true))).toEqual({ id: 'gw1', leaving: true })
    for (const bad of ['{}', 'nope', '{"v":1,"id":"a/b"}', '{"v":2,"id":"gw1"}']) expect(decodeGatewayAlive(Buffer.from(bad)), bad).toBeNull()
  })

  it('lets only the gateways announce themselves and read kicks; machines neither', () => {
    const gateway: Identity = { kind: 'service' }
    const machine: Identity = { kind: 'machine', id: 'VM-A', secretHash: 'h' }
    expect(canPublish('vending', gateway, gatewayAliveTopic('vending'))).toBe(true)
    for (const topic of [storedKickTopic('vending'), storedKickTopic('vending', 'gw1')]) expect(canPublish('vending', gateway, topic), topic).toBe(false)
    for (const topic of [gatewayAliveTopic('vending'), storedKickTopic('vending'), storedKickTopic('vending', 'gw1')]) {
      expect(canSubscribe('vending', gateway, topic), topic).toBe(true)
      expect(canReceive('vending', gateway, topic), topic).toBe(true)
      expect(canPublish('vending', machine, topic), topic).toBe(false)
      expect(canSubscribe('vending', machine, topic), topic).toBe(false)
      expect(canReceive('vending', machine, topic), topic).toBe(false)
    }
    expect(canSubscribe('vending', gateway, 'vending/$gateway/stored/+')).toBe(false)
    expect(canSubscribe('vending', gateway, 'vending/$gateway/#')).toBe(false)
  })

  it('carries the stored sales of the kassas a kick names, and leaves out any of another shape or kassa', () => {
    const sale = (id: number, kassaId: string): StoredSale => ({
      id, kassa_id: kassaId, machine_id: `VM-${id}`, sale_id: `s-${id}`, kind: 'sale', refund_of: null,
      items: [{ sku: 'A1', name: 'Вода «Горная» 0,5 л', price: 8000, qty: 1, vat: 'vat22' }], payment_method: 'card', total: 8000,
      number: `${id}`, address: 'Москва, ул. Тверская, 1', place: 'вестибюль',
    })
    const sales = [sale(1, 'K-1'), sale(2, 'K-2'), sale(3, 'K-1')]
    expect(decodeStoredKick(encodeStoredKick(['K-1', 'K-2'], sales))).toEqual({ kassas: ['K-1', 'K-2'], sales })
    // Without sales (a broker that carries none): the kassas alone.
    expect(decodeStoredKick(encodeStoredKick(['K-1']))).toEqual({ kassas: ['K-1'], sales: [] })
    const odd = [
      { ...sale(4, 'K-1'), id: '4' }, { ...sale(5, 'K-1'), items: [] }, { ...sale(6, 'K-1'), total: 1.5 }, sale(7, 'K-9'), sale(8, 'K-1'),
    ]
    const decoded = decodeStoredKick(Buffer.from(JSON.stringify({ v: 1, kassas: ['K-1'], sales: odd })))
    expect(decoded).toEqual({ kassas: ['K-1'], sales: [sale(8, 'K-1')] })
    expect(decodeStoredKick(Buffer.from('{"v":1,"kassas":"K-1"}'))).toEqual({ kassas: [], sales: [] })
    expect(decodeStoredKick(Buffer.from('not json'))).toEqual({ kassas: [], sales: [] })
  })
})
