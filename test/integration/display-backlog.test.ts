import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { unacknowledgedDisplays, unacknowledgedDisplaysQuery } from '../../gateway/display/outbox.repository.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { pagesRead, tablePages } from '../support/pages.js'
import { provisionFleet } from '../support/system.js'

// The count of unacknowledged displays (gauge gateway_display_outbox_unsent) is read at every
// scrape of /metrics. It must cost what is unacknowledged, not the kassas' whole history.

const FN = '9999078900009901'
const DOCUMENTS = 20_000

describe('unacknowledged displays', () => {
  let database: TestDatabase
  const db = () => database.handle.db
  const setMark = (fd: number) => sql`update display_marks set through_fd = ${fd} where fn = ${FN}`.execute(db())
  const count = async () => (await unacknowledgedDisplays(db())).rows[0]!.n

  beforeAll(async () => {
    database = await createTestDatabase()
    await provisionFleet(db(), 0, { kassa: { id: 'K-BL', fn: FN, reg: '0000000001019901' } })
    // A long history, written directly: receipts with a display of a few hundred bytes each.
    await sql`insert into fiscal_documents (fn, fd, kassa_id, type, signed_at, shift, total, fp, tlv, display)
      select ${FN}, g, 'K-BL', 3, now(), 1, 100, '1', '\\x00'::bytea, repeat('x', 300) from generate_series(1, ${DOCUMENTS}) g`.execute(db())
    await sql`update fiscal_drives set next_fd = ${DOCUMENTS + 1} where fn = ${FN}`.execute(db())
    await sql`analyze fiscal_documents, display_marks, fiscal_drives`.execute(db())
  })

  afterAll(async () => {
    await database?.drop()
  })

  it('counts the documents with a display above the mark, up to the FN\'s last one', async () => {
    await setMark(DOCUMENTS)
    expect(await count()).toBe(0)
    await setMark(DOCUMENTS - 7)
    expect(await count()).toBe(7)
    // A shift report has no display: not counted.
    await sql`update fiscal_documents set display = null where fn = ${FN} and fd = ${DOCUMENTS - 3}`.execute(db())
    expect(await count()).toBe(6)
  })

  it('reads the documents above the mark, not the FN\'s history', async () => {
    await setMark(DOCUMENTS - 5)
    expect(await tablePages(db(), 'fiscal_documents')).toBeGreaterThan(500)
    expect(await pagesRead(db(), unacknowledgedDisplaysQuery)).toBeLessThan(50)
  })
})
