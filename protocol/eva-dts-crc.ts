// EVA-DTS record integrity check (segment G85): CRC-16/ARC, the reflected form of the generator
// x^16 + x^15 + x^2 + 1 (0x8005 → 0xA001), initial value 0, no final xor, fed one byte at a time
// (EVA-DTS 6.2 §2.4.3). The catalogue check value of CRC-16/ARC over "123456789" is 0xBB3D.
// Shared by the gateway (checking an upload) and the simulator (writing one).

export function crc16Arc(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0
  for (let i = start; i < end; i++) {
    crc ^= bytes[i]!
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1
  }
  return crc
}

/** G85's four hex characters: most significant byte first, as devices of DTS 6.0 and later write it. */
export function formatG85(crc: number): string {
  return crc.toString(16).toUpperCase().padStart(4, '0')
}
