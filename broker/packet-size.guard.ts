import type { Client } from 'aedes'

// Aedes 1.x has no maximum packet size, and its parser (mqtt-packet 9) buffers a whole packet before
// any hook sees it: a machine announcing a 1 MiB (or 256 MiB) PUBLISH would be held in memory first.
// MQTT's fixed header gives the remaining length before the body, and mqtt-packet decodes it in its
// `_parseLength` state. Wrapping that one method on the client's own parser instance refuses the packet
// as soon as its length is known, with only the first socket chunk read. It is private API of a
// pinned version: `guardPacketSize` reports when the shape is missing, and the payload check in
// authorizePublish stays as the fallback (it runs after buffering, but still refuses).

interface ParserInternals {
  packet: { length: number; cmd?: string }
  /** The bytes read after the fixed header (mqtt-packet's BufferList). */
  _list: { length: number; readUInt16BE(offset: number): number; toString(encoding: 'utf8', start: number, end: number): string }
  _parseLength(): boolean
  _emitError(err: Error): void
}

export class PacketTooLargeError extends Error {
  constructor(readonly length: number, readonly limit: number) {
    super(`MQTT packet of ${length} bytes exceeds the limit of ${limit}`)
    this.name = 'PacketTooLargeError'
  }
}

/**
 * The topic of a PUBLISH whose length is known, when its first bytes have arrived with the header
 * (they follow it at once, and a client writes them in the same segment): null otherwise.
 */
function peekTopic(parser: ParserInternals): string | null {
  if (parser.packet.cmd !== 'publish') return null
  const list = parser._list
  if (list.length < 2) return null
  const length = list.readUInt16BE(0)
  return list.length >= 2 + length ? list.toString('utf8', 2, 2 + length) : null
}

/**
 * Makes the client's parser refuse any packet whose remaining length exceeds `limit(topic)` (read
 * per packet, because the limit depends on who logged in and, for a PUBLISH, on its topic when
 * already read; null when not). The parser's error closes the connection.
 * Returns false when the parser does not have the expected shape (an Aedes or mqtt-packet upgrade).
 */
export function guardPacketSize(client: Client, limit: (topic: string | null) => number, onRefused: (err: PacketTooLargeError) => void): boolean {
  const parser = (client as unknown as { _parser?: Partial<ParserInternals> })._parser
  if (!parser || typeof parser._parseLength !== 'function' || typeof parser._emitError !== 'function') return false
  const parseLength = parser._parseLength
  parser._parseLength = function guardedParseLength(this: ParserInternals): boolean {
    const complete = parseLength.call(this)
    if (complete) {
      const max = limit(peekTopic(this))
      if (this.packet.length > max) {
        const err = new PacketTooLargeError(this.packet.length, max)
        onRefused(err)
        this._emitError(err) // stops the parse loop; Aedes destroys the connection on a parser error
        return false
      }
    }
    return complete
  }
  return true
}
