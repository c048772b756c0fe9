import { describe, expect, it } from 'vitest'
import { cp866Decode, cp866Encode, toCp866Text } from '../../gateway/fiscal/index.js'

describe('CP866 strings', () => {
  it('replaces guillemets, typographic quotes and dashes with their nearest equivalent', () => {
    expect(toCp866Text('«Вода» „Чай“ ‘x’ — – …')).toBe('"Вода" "Чай" \'x\' - - ...')
    expect(cp866Decode(cp866Encode('Сок «Добрый» — 1 л'))).toBe('Сок "Добрый" - 1 л')
  })

  it('keeps № as the CP866 byte 0xFC', () => {
    const bytes = cp866Encode('№5')
    expect([...bytes]).toEqual([0xfc, 0x35])
    expect(cp866Decode(bytes)).toBe('№5')
  })

  it('round-trips the whole Cyrillic alphabet, Ё and ё included, one byte per letter', () => {
    const text = 'абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ'
    const bytes = cp866Encode(text)
    expect(bytes.length).toBe(text.length)
    expect(cp866Decode(bytes)).toBe(text)
    expect([...cp866Encode('Аа')]).toEqual([0x80, 0xa0])
  })

  it('turns a no-break space into a space and accented Latin letters into their base letter', () => {
    expect(toCp866Text('100\u00a0г café')).toBe('100 г cafe')
  })

  it('writes ? for a character with no equivalent instead of dropping it', () => {
    expect(toCp866Text('a😀b中c')).toBe('a?b?c')
    expect(cp866Encode('😀').length).toBe(1)
  })

  it('joins a letter and its combining mark before encoding, so й stays й', () => {
    expect(cp866Decode(cp866Encode('и\u0306'))).toBe('й')
  })

  it('converts a repeated text the same way, and each encoding is its own array', () => {
    const name = 'ООО «Вендинг» — №1'
    expect(toCp866Text(name)).toBe('ООО "Вендинг" - №1')
    expect(toCp866Text(name)).toBe('ООО "Вендинг" - №1')
    const first = cp866Encode(name)
    first[0] = 0x3f
    const second = cp866Encode(name)
    expect(cp866Decode(second)).toBe('ООО "Вендинг" - №1')
    expect(second).not.toBe(first)
    // Thousands of distinct texts (item names from many machines) keep being converted right.
    for (let i = 0; i < 10_000; i++) expect(toCp866Text(`«${i}»`)).toBe(`"${i}"`)
    expect(cp866Decode(cp866Encode(name))).toBe('ООО "Вендинг" - №1')
  })
})
