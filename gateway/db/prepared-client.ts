import { createHash } from 'node:crypto'
import pg from 'pg'

// Kysely sends every statement unnamed, so PostgreSQL parses and plans it on each execution. With
// a name, node-postgres prepares a statement once per connection and then only binds it. Measured
// here (scripts/bench, an ingest INSERT plus a fiscalization batch of 3 sales): the database's CPU
// per batch fell from 3.3–4.0 ms to 1.5–2.3 ms, and the database was the busiest process.
//
// Limits, so that a statement whose text varies (`in ($1, …, $n)`) cannot fill the server's memory:
// only parameterised texts seen twice are named, and at most MAX_NAMED per process. Not for a pooler
// in transaction mode (PgBouncer), where a connection's prepared statements are not its own.

const MAX_NAMED = 200

/** Statement text → name; a text seen once maps to null. Shared by every connection of the process. */
const names = new Map<string, string | null>()
let named = 0
let generation = 0

function nameFor(text: string): string | undefined {
  const known = names.get(text)
  if (known) return known
  if (known === undefined) {
    // Seen once. When texts that vary fill the map, forget the seen-once ones, not the named.
    if (names.size >= MAX_NAMED * 4) for (const [t, n] of names) if (n === null) names.delete(t)
    names.set(text, null)
    return undefined
  }
  if (named >= MAX_NAMED) return undefined
  const name = `k${generation}_${createHash('sha1').update(text).digest('base64url').slice(0, 20)}`
  names.set(text, name)
  named++
  return name
}

/** A changed table can make a prepared `select *` invalid ("cached plan must not change result type"). */
function isStalePlan(err: unknown): boolean {
  return (err as { code?: string }).code === '0A000' && /cached plan/.test((err as Error).message)
}

/** A pg.Client that names parameterised statements (see above); pass it as the pool's `Client`. */
export class PreparedClient extends pg.Client {
  override query(config: any, values?: any, callback?: any): any {
    // Only parameterised texts: BEGIN, COMMIT and other fixed statements gain nothing from a name.
    if (typeof config !== 'string' || !Array.isArray(values) || values.length === 0 || typeof callback === 'function') return super.query(config, values, callback)
    const name = nameFor(config)
    if (name === undefined) return super.query(config, values)
    const result = super.query({ name, text: config, values }) as Promise<unknown>
    return result.catch((err: unknown) => {
      // Re-prepared under a new name by the next call; this one fails and its caller retries.
      if (isStalePlan(err)) {
        generation++
        names.clear()
        named = 0
      }
      throw err
    })
  }
}
