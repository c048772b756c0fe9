import { sql } from 'kysely'
import readXlsxFile from 'read-excel-file/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { localDateTime } from '../../gateway/operator/journal-export.js'
import { signIn, type ConsoleSession } from '../support/console-session.js'
import { DAY_START, startSoldFleet, USERS, type SoldFleet } from '../support/sold-fleet.js'

describe('the console API on a fleet that has sold: machines list, journal and exports, charts, kassa page', () => {
  let fleet: SoldFleet
  let s: ConsoleSession

  beforeAll(async () => {
    fleet = await startSoldFleet()
    s = await signIn(fleet.base, USERS.viewer.username, USERS.viewer.password)
  }, 120_000)
  afterAll(async () => { await fleet?.stop() })

  const ids = async (query: string) => (await s.call('GET', `/api/machines?${query}`)).body.items.map((m: any) => m.id)

  it('searches by id, address and place, filters by status and kassa, and counts only enabled machines online', async () => {
    expect(await ids('q=sn-')).toEqual(['SN-01', 'SN-02', 'SN-03'])
    expect(await ids('q=арбат')).toEqual(['SN-01', 'SN-03'])
    expect(await ids('q=проходная')).toEqual(['SN-02'])
    expect(await ids('q=100%25')).toEqual([])
    expect(await ids('status=online')).toEqual(['SN-01', 'VM-001', 'VM-002', 'VM-003'])
    expect(await ids('status=offline')).toEqual(['SN-02', 'VM-004', 'VM-005'])
    expect(await ids('status=disabled')).toEqual(['SN-03'])
    expect(await ids('kassa=K2&status=offline')).toEqual(['SN-02'])
    expect((await s.call('GET', '/api/fleet/summary')).body).toEqual({ machines: 7, online: 4, disabled: 1 })
    // A disabled machine still connected (its retained status says online) is not "в сети" either.
    await sql`update machines set online = true where id = 'SN-03'`.execute(fleet.database.handle.db)
    expect((await s.call('GET', '/api/fleet/summary')).body).toEqual({ machines: 7, online: 4, disabled: 1 })
    expect(await ids('status=online')).toEqual(['SN-01', 'VM-001', 'VM-002', 'VM-003'])
    await sql`update machines set online = false where id = 'SN-03'`.execute(fleet.database.handle.db)
    expect((await s.call('GET', '/api/machines?status=asleep')).status).toBe(400)
  })

  it('sorts by any column both ways and pages through the sort with cursors', async () => {
    // "Today" is the kassa's calendar day and the fleet sold on 1 December: the last sale tells them apart.
    const lastSale = new Map<string, string>()
    for (const x of fleet.sent) if ((lastSale.get(x.machineId) ?? '') < x.at) lastSale.set(x.machineId, x.at)
    const byLastSale = [...lastSale.entries()].sort((a, b) => (a[1] < b[1] ? -1 : 1)).map(([id]) => id)
    const pages: string[] = []
    let cursor: string | null = null
    do {
      const r: any = (await s.call('GET', `/api/machines?sort=lastSaleAt&dir=asc&limit=3${cursor ? `&cursor=${cursor}` : ''}`)).body
      pages.push(...r.items.map((m: any) => m.id))
      cursor = r.next
    } while (cursor)
    // SN-03 never sold (disabled): no last sale sorts first.
    expect(pages).toEqual(['SN-03', ...byLastSale])
    expect(await ids('sort=address&dir=desc&kassa=K2')).toEqual(['SN-03', 'SN-01', 'SN-02'])
    expect(await ids('sort=status&dir=asc')).toEqual(['SN-03', 'SN-02', 'VM-004', 'VM-005', 'SN-01', 'VM-001', 'VM-002', 'VM-003'])
    const wrong = await s.call('GET', `/api/machines?sort=place&cursor=${(await s.call('GET', '/api/machines?sort=id&limit=1')).body.next}`)
    expect(wrong.status).toBe(400)
  })

  it('charts the sales of a known range by hour and by day with the totals that were sold', async () => {
    const range = `from=${DAY_START.toISOString()}&to=${new Date(DAY_START.getTime() + 6 * 3_600_000).toISOString()}`
    const hourly = (await s.call('GET', `/api/charts/sales?${range}&bucket=hour`)).body.items
    expect(hourly.map((p: any) => p.t)).toEqual(['09', '10', '11', '12', '13', '14'].map((h) => `2026-12-01T${h}:00`))
    expect(hourly.reduce((n: number, p: any) => n + p.sales, 0)).toBe(30)
    expect(hourly.reduce((n: number, p: any) => n + p.revenue, 0)).toBe(fleet.sent.reduce((n, x) => n + x.payment.amount, 0))
    const k2 = (await s.call('GET', `/api/charts/sales?${range}&bucket=day&scope=kassa&id=K2`)).body.items
    const k2Sent = fleet.sent.filter((x) => x.machineId.startsWith('SN-'))
    expect(k2).toEqual([{ t: '2026-12-01T00:00', sales: k2Sent.length, refunds: 0, revenue: k2Sent.reduce((n, x) => n + x.payment.amount, 0) }])
    const latency = (await s.call('GET', `/api/charts/latency?${range}&bucket=day&scope=machine&id=VM-001`)).body.items
    expect(latency).toHaveLength(1)
    expect(latency[0].receipts).toBe(fleet.sent.filter((x) => x.machineId === 'VM-001').length)
    expect(latency[0].p50).toBeGreaterThan(0)
    expect(latency[0].p99).toBeGreaterThanOrEqual(latency[0].p50)
    expect((await s.call('GET', `/api/charts/sales?from=${DAY_START.toISOString()}&to=2027-03-01T00:00:00Z&bucket=hour`)).status).toBe(400)
  })

  it('exports the journal as CSV with a BOM and as XLSX, row for row what the database holds', async () => {
    const db = fleet.database.handle.db
    const expected = (await sql<{ machine_id: string; sale_id: string; total: number; sold_at: Date; fd: number; fp: string }>`
      select s.machine_id, s.sale_id, s.total, s.sold_at, s.fd, d.fp from sales s join fiscal_documents d on d.fn = s.fn and d.fd = s.fd
      where s.kassa_id = 'K1' order by s.id desc`.execute(db)).rows
      .map((r) => [localDateTime(r.sold_at, 'Europe/Moscow'), r.machine_id, r.sale_id, `${Math.trunc(r.total / 100)},${String(r.total % 100).padStart(2, '0')}`, String(r.fd), r.fp])
    expect(expected.length).toBeGreaterThan(10)
    const pick = (row: string[]) => [row[0]!, row[1]!, row[3]!, row[6]!, row[10]!, row[11]!]

    const csv = await fetch(`${fleet.base}/api/journal.csv?kassa=K1`, { headers: { cookie: s.cookie } })
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8')
    const bytes = Buffer.from(await csv.arrayBuffer())
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf])
    const lines = bytes.toString('utf8').slice(1).trimEnd().split('\r\n').map((l) => l.split(';'))
    expect(lines[0]![0]).toBe('Дата и время')
    expect(lines.slice(1).map(pick)).toEqual(expected)

    const xlsx = await fetch(`${fleet.base}/api/journal.xlsx?kassa=K1`, { headers: { cookie: s.cookie } })
    const sheet = (await readXlsxFile(Buffer.from(await xlsx.arrayBuffer())))[0]!.data as string[][]
    expect(sheet[0]![5]).toBe('Товары')
    expect(sheet.slice(1).map((r) => pick(r.map(String)))).toEqual(expected)
  })

  it('shows a kassa its shift with the open report, its documents with receipt links, and no provider status when emulated', async () => {
    const shifts = (await s.call('GET', '/api/kassas/K2/shifts')).body.items
    const k2Sent = fleet.sent.filter((x) => x.machineId.startsWith('SN-')).length
    expect(shifts).toEqual([expect.objectContaining({ fn: '9999078900004321', shift: 1, opened: expect.objectContaining({ fd: 1 }), closed: null, receipts: k2Sent })])
    const docs = (await s.call('GET', '/api/kassas/K2/documents')).body.items
    expect(docs).toHaveLength(k2Sent + 1)
    expect(docs.at(-1)).toMatchObject({ fd: 1, type: 2, receiptUrl: null })
    const receipt = docs[0]
    expect(receipt.receiptUrl).toBe(`http://receipts.test/r/9999078900004321/${receipt.fd}?fp=${receipt.fp}`)
    expect((await s.call('GET', '/api/kassas/K2/provider')).body).toEqual({ status: null })
  })
})
