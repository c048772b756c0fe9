import { sql, type Kysely, type RawBuilder } from 'kysely'

// How much a query reads, for tests that a periodic or locked read costs what it finds, not the
// table's history: the pages a table has, and the pages one run of a query touched (EXPLAIN
// ANALYZE's shared buffers, hit or read, of the whole plan).

export async function tablePages(db: Kysely<any>, table: string): Promise<number> {
  return (await sql<{ n: number }>`select relpages::int as n from pg_class where relname = ${table}`.execute(db)).rows[0]!.n
}

export async function pagesRead(db: Kysely<any>, query: RawBuilder<unknown>): Promise<number> {
  const result = await sql<{ 'QUERY PLAN': { Plan: Record<string, number> }[] }>`explain (analyze, buffers, format json) ${query}`.execute(db)
  const plan = result.rows[0]!['QUERY PLAN'][0]!.Plan
  return (plan['Shared Hit Blocks'] ?? 0) + (plan['Shared Read Blocks'] ?? 0)
}
