// Opaque keyset cursors: the last key of a page, base64url-encoded JSON. Opaque so the key may
// change (e.g. to a composite one) without breaking clients that only pass `next` back.

export function encodeCursor(key: string | number): string {
  return Buffer.from(JSON.stringify({ k: key }), 'utf8').toString('base64url')
}

/** The key inside a cursor, or null when it is not one of ours (answered with 400). */
export function decodeCursor<T extends 'string' | 'number'>(cursor: string, type: T): (T extends 'string' ? string : number) | null {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { k?: unknown }
    if (type === 'number' ? Number.isSafeInteger(parsed.k) : typeof parsed.k === 'string') return parsed.k as never
  } catch {
    // not base64url JSON
  }
  return null
}

/** A page of `limit` from `rows` fetched with limit + 1: the extra row only tells that more exist. */
export function page<T>(rows: readonly T[], limit: number, keyOf: (row: T) => string | number): { items: T[]; next: string | null } {
  const items = rows.slice(0, limit)
  const last = items[items.length - 1]
  return { items, next: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null }
}
