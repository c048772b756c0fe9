// A test double of an ATOL Online v5 cloud kassa: a real HTTP server (node:http, 127.0.0.1, port 0)
// with the documented endpoints, an emulated FN behind it, and switches to inject faults.
//
//   POST {base}/getToken                 {login, pass} → {token, error: null, timestamp}
//   POST {base}/{group}/sell             receipt → {uuid, status: 'wait', error: null, timestamp}
//   POST {base}/{group}/sell_refund      the same
//   POST {base}/{group}/sell_correction  a correction receipt under `correction` (+ correction_info) → the same
//   GET  {base}/{group}/report/{uuid}    {uuid, status: wait|done|fail, error, payload, …}
//
// It checks request bodies on its own (not with the gateway's zod schemas, so a bug there is not
// mirrored here) and answers errors as ATOL does: a non-200 status with `{error: {error_id, code,
// text, type}}`. ATOL's numeric codes are not public in full (docs/fiscal.md §6 q.4); CODES below follow
// the v4/v5 numbering as far as it is known [unverified].
//
// Duplicate external_id — emulated behaviour (default 'conflict-with-uuid'): HTTP 409 with
// `{uuid: <existing>, status: 'fail', error: {code: 33, text: 'В системе существует чек с external_id …
// и group_code …', type: 'system'}}` — the document is neither created nor changed; `status: 'fail'`
// is about the request, not the existing document, which a client must poll by the uuid. Switchable to
// 'conflict-without-uuid' (the same without uuid) and 'accept-existing' (200, the existing uuid).
import { createHmac, randomBytes, randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { invalidCorrectionReason, invalidReason, isObject } from './atol-validate.js'

export const CODES = {
  badToken: 11, // missing, unknown or expired Token header (HTTP 401)
  badCredentials: 12, // getToken: wrong login or password (HTTP 401)
  badGroup: 31, // group_code not served by these credentials (HTTP 400)
  invalid: 32, // JSON or receipt validation failed (HTTP 400)
  duplicate: 33, // external_id already registered in the group
  notFound: 34, // report: no such uuid (HTTP 404)
  route: 40, // unknown path or method (HTTP 404)
  internal: 50, // injected 5xx
} as const

export type Operation = 'sell' | 'sell_refund' | 'sell_correction'
export type DuplicateBehaviour = 'conflict-with-uuid' | 'conflict-without-uuid' | 'accept-existing'
export interface AtolErrorBody { error_id: string; code: number; text: string; type: string }

export interface AtolServerOptions {
  login?: string
  password?: string
  group?: string
  basePath?: string
  /** How long a document reports `wait` before it is signed (or fails), ms on `now()`'s clock. */
  waitMs?: number
  /** The kassa's zone: receipt_datetime and timestamps are its wall-clock time. */
  timeZone?: string
  fnNumber?: string
  regNumber?: string
  /** When set, receipts must carry this company INN (ATOL checks the INN against the FN). */
  inn?: string
  ofdInn?: string
  ofdReceiptUrls?: boolean
  tokenLifetimeMs?: number
  requireClientContact?: boolean
  duplicateExternalId?: DuplicateBehaviour
  now?: () => Date
}

export interface AtolServerDocument {
  uuid: string
  externalId: string
  operation: Operation
  request: Record<string, any>
  acceptedAt: Date
  status: 'wait' | 'done' | 'fail'
  error: AtolErrorBody | null
  payload: Record<string, unknown> | null
  /** The instant the FN signed it (receipt_datetime is this in the kassa's zone, to the second). */
  signedAt: Date | null
  fp: string | null
}

/** Every document the emulated FN numbered: shift reports take numbers too, with no gap. */
export interface FnDocument { fd: number; kind: 'shift_open' | 'shift_close' | 'receipt' | 'correction'; shift: number; uuid: string | null; fp: string }

export interface AtolServer {
  /** Base URL ending in `/`, e.g. `http://127.0.0.1:PORT/possystem/v5/`. */
  url: string
  login: string
  password: string
  group: string
  fnNumber: string
  /** Delay before every response, ms. */
  slowMs: number
  duplicateExternalId: DuplicateBehaviour
  /** The next n requests (any endpoint) answer 500, 503, 500, … and change nothing. */
  fail5xx(n: number): void
  /** The next n sell/sell_refund requests are processed (stored) but the answer never comes ('hang') or comes after delayMs. */
  timeoutNext(n: number, mode?: 'hang' | { delayMs: number }): void
  /** Every token issued so far becomes invalid: the next call with one gets 401. */
  expireTokens(): void
  /** The next accepted document finishes `fail` with this error instead of being signed. */
  failNext(error: { type: string; code: number; text: string }): void
  counters: Readonly<Counters>
  /** All registered documents in acceptance order (settled up to now()). */
  readonly documents: readonly AtolServerDocument[]
  readonly fnDocuments: readonly FnDocument[]
  stop(): Promise<void>
}

interface Counters {
  tokensIssued: number; unauthorized: number; sellsAccepted: number; duplicates: number
  duplicateBodyMismatches: number; rejected: number; injected5xx: number; injectedTimeouts: number; reportsServed: number
}

function atolDateTime(date: Date, timeZone: string): string {
  const f = new Intl.DateTimeFormat('en-GB', {
    timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  })
  const p = Object.fromEntries(f.formatToParts(date).map((x) => [x.type, x.value]))
  return `${p.day}.${p.month}.${p.year} ${p.hour}:${p.minute}:${p.second}`
}

export async function createAtolServer(options: AtolServerOptions = {}): Promise<AtolServer> {
  const login = options.login ?? 'vending-gateway'
  const password = options.password ?? `pw-${randomBytes(6).toString('hex')}`
  const group = options.group ?? 'vending-test_1'
  const basePath = options.basePath ?? '/possystem/v5'
  const timeZone = options.timeZone ?? 'Europe/Moscow'
  const fnNumber = options.fnNumber ?? '9999078900001234'
  const now = options.now ?? (() => new Date())
  const waitMs = options.waitMs ?? 0
  const lifetime = options.tokenLifetimeMs ?? 24 * 3_600_000
  const secret = randomBytes(32)

  const counters: Counters = {
    tokensIssued: 0, unauthorized: 0, sellsAccepted: 0, duplicates: 0, duplicateBodyMismatches: 0,
    rejected: 0, injected5xx: 0, injectedTimeouts: 0, reportsServed: 0,
  }
  const tokens = new Map<string, number>() // token → issued at (ms)
  const docs: AtolServerDocument[] = []
  const byExternalId = new Map<string, AtolServerDocument>()
  const byUuid = new Map<string, AtolServerDocument>()
  const fnDocs: FnDocument[] = []
  const failQueue: Array<{ type: string; code: number; text: string }> = []
  const fn = { nextFd: 1, shift: 0, shiftOpenedAt: null as number | null, receiptsInShift: 0 }
  let pending5xx = 0
  let pendingTimeouts: Array<'hang' | { delayMs: number }> = []
  const hanging = new Set<ServerResponse>()
  const waits = new Set<() => void>()
  let stopped = false

  const state = { slowMs: 0, duplicateExternalId: options.duplicateExternalId ?? ('conflict-with-uuid' as DuplicateBehaviour) }

  function delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => { clearTimeout(timer); waits.delete(done); resolve() }
      const timer = setTimeout(done, ms)
      waits.add(done)
    })
  }

  /** 6-byte tag 1077 = first 6 bytes of an HMAC; fp = its last 4 bytes, big-endian (README.md#fiscal-data). */
  function sign(parts: unknown[]): string {
    return String(createHmac('sha256', secret).update(JSON.stringify(parts)).digest().readUInt32BE(2))
  }

  function fnDocument(kind: FnDocument['kind'], uuid: string | null, at: number): FnDocument {
    const fd = fn.nextFd++
    const d = { fd, kind, shift: fn.shift, uuid, fp: sign([fnNumber, fd, kind, at]) }
    fnDocs.push(d)
    return d
  }

  /** Signs (or fails) every document whose wait is over, in acceptance order: fds stay gapless. */
  function settle(): void {
    const t = now().getTime()
    for (const doc of docs) {
      if (doc.status !== 'wait' || t - doc.acceptedAt.getTime() < waitMs) continue
      const failure = (doc as { failWith?: AtolServerDocument['error'] }).failWith
      if (failure) {
        doc.status = 'fail'
        doc.error = failure
        continue
      }
      // The FN refuses a shift older than 24 h (docs/fiscal.md §3.2): close it and open the next.
      if (fn.shiftOpenedAt === null || t - fn.shiftOpenedAt >= 24 * 3_600_000) {
        if (fn.shiftOpenedAt !== null) fnDocument('shift_close', null, t)
        fn.shift++
        fn.shiftOpenedAt = t
        fn.receiptsInShift = 0
        fnDocument('shift_open', null, t)
      }
      const receiptDatetime = atolDateTime(new Date(t), timeZone)
      const fd = fn.nextFd
      const receipt = doc.operation === 'sell_correction' ? doc.request.correction : doc.request.receipt
      const fp = sign([fnNumber, fd, receiptDatetime, doc.operation, receipt.total, doc.externalId])
      fn.nextFd++
      fnDocs.push({ fd, kind: doc.operation === 'sell_correction' ? 'correction' : 'receipt', shift: fn.shift, uuid: doc.uuid, fp })
      fn.receiptsInShift++
      doc.status = 'done'
      doc.signedAt = new Date(Math.floor(t / 1000) * 1000)
      doc.fp = fp
      doc.payload = {
        total: receipt.total,
        fns_site: 'www.nalog.gov.ru',
        fn_number: fnNumber,
        shift_number: fn.shift,
        receipt_datetime: receiptDatetime,
        fiscal_receipt_number: fn.receiptsInShift,
        fiscal_document_number: fd,
        ecr_registration_number: options.regNumber ?? '0000000001012345',
        fiscal_document_attribute: Number(fp),
        ofd_inn: options.ofdInn ?? '7704211201',
        ...(options.ofdReceiptUrls && { ofd_receipt_url: `https://ofd.example/receipt/${fnNumber}/${fd}/${fp}` }),
      }
    }
  }

  const stamp = (): string => atolDateTime(now(), timeZone)
  const errorBody = (code: number, text: string, type = 'system'): AtolErrorBody => ({ error_id: randomUUID(), code, text, type })

  function reply(res: ServerResponse, status: number, body: unknown): void {
    if (res.destroyed || res.writableEnded) return
    const text = JSON.stringify(body)
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
    res.end(text)
  }
  function refuse(res: ServerResponse, status: number, code: number, text: string, type = 'system'): void {
    if (status !== 401) counters.rejected++
    reply(res, status, { error: errorBody(code, text, type), timestamp: stamp() })
  }

  async function readJson(req: IncomingMessage): Promise<{ ok: true; value: unknown } | { ok: false }> {
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of req) {
      size += (chunk as Buffer).length
      if (size > 1 << 20) return { ok: false }
      chunks.push(chunk as Buffer)
    }
    if (size === 0) return { ok: true, value: undefined }
    try { return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) } } catch { return { ok: false } }
  }

  function tokenValid(req: IncomingMessage): boolean {
    const token = req.headers.token
    const issuedAt = typeof token === 'string' ? tokens.get(token) : undefined
    return issuedAt !== undefined && now().getTime() - issuedAt < lifetime
  }

  async function register(req: IncomingMessage, res: ServerResponse, operation: Operation, body: unknown): Promise<void> {
    const check = operation === 'sell_correction' ? invalidCorrectionReason : invalidReason
    const reason = check(body, options.requireClientContact ?? true, options.inn)
    if (reason !== null) return refuse(res, 400, CODES.invalid, `Ошибка валидации входного чека: ${reason}`)
    const request = body as Record<string, any>
    const existing = byExternalId.get(request.external_id)
    let answer: { status: number; body: unknown }
    if (existing) {
      counters.duplicates++
      if (JSON.stringify(existing.request) !== JSON.stringify(request) || existing.operation !== operation) counters.duplicateBodyMismatches++
      const text = `В системе существует чек с external_id : ${request.external_id} и group_code: ${group}`
      answer = state.duplicateExternalId === 'accept-existing'
        ? { status: 200, body: { uuid: existing.uuid, status: 'wait', error: null, timestamp: stamp() } }
        : { status: 409, body: {
            ...(state.duplicateExternalId === 'conflict-with-uuid' && { uuid: existing.uuid }),
            status: 'fail', error: errorBody(CODES.duplicate, text), timestamp: stamp(),
          } }
    } else {
      const doc: AtolServerDocument & { failWith?: AtolErrorBody } = {
        uuid: randomUUID(), externalId: request.external_id, operation, request, acceptedAt: now(),
        status: 'wait', error: null, payload: null, signedAt: null, fp: null,
      }
      const failure = failQueue.shift()
      if (failure) doc.failWith = errorBody(failure.code, failure.text, failure.type)
      docs.push(doc)
      byExternalId.set(doc.externalId, doc)
      byUuid.set(doc.uuid, doc)
      counters.sellsAccepted++
      answer = { status: 200, body: { uuid: doc.uuid, status: 'wait', error: null, timestamp: stamp() } }
    }
    const timeout = pendingTimeouts.shift()
    if (timeout !== undefined) {
      counters.injectedTimeouts++
      if (timeout === 'hang') {
        hanging.add(res)
        res.on('close', () => hanging.delete(res))
        return
      }
      await delay(timeout.delayMs)
    }
    reply(res, answer.status, answer.body)
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req)
    if (state.slowMs > 0) await delay(state.slowMs)
    if (stopped) return void res.destroy()
    settle()
    if (pending5xx > 0) {
      pending5xx--
      counters.injected5xx++
      const status = counters.injected5xx % 2 === 1 ? 500 : 503
      return refuse(res, status, CODES.internal, 'Внутренняя ошибка сервиса (injected)')
    }
    const path = new URL(req.url ?? '/', 'http://double').pathname
    if (!path.startsWith(`${basePath}/`)) return refuse(res, 404, CODES.route, `unknown path ${path}`)
    const segments = path.slice(basePath.length + 1).split('/').map(decodeURIComponent)
    if (!body.ok) return refuse(res, 400, CODES.invalid, 'Ошибка парсинга JSON')

    if (req.method === 'POST' && segments.length === 1 && segments[0] === 'getToken') {
      const b = body.value
      if (!isObject(b) || b.login !== login || b.pass !== password) {
        counters.unauthorized++
        return refuse(res, 401, CODES.badCredentials, 'Неверный логин или пароль')
      }
      const token = randomBytes(32).toString('hex')
      tokens.set(token, now().getTime())
      counters.tokensIssued++
      return reply(res, 200, { error: null, token, timestamp: stamp() })
    }
    const [g, op, uuid] = segments
    const isRegister = req.method === 'POST' && segments.length === 2 && (op === 'sell' || op === 'sell_refund' || op === 'sell_correction')
    const isReport = req.method === 'GET' && segments.length === 3 && op === 'report'
    if (!isRegister && !isReport) return refuse(res, 404, CODES.route, `unknown endpoint ${req.method} ${path}`)
    if (!tokenValid(req)) {
      counters.unauthorized++
      return refuse(res, 401, CODES.badToken, 'Передан некорректный или просроченный токен')
    }
    if (g !== group) return refuse(res, 400, CODES.badGroup, `group_code ${g} is not served`)
    if (isRegister) return register(req, res, op as Operation, body.value)

    const doc = byUuid.get(uuid ?? '')
    if (!doc) return refuse(res, 404, CODES.notFound, 'Состояние чека не найдено. Попробуйте позднее')
    counters.reportsServed++
    reply(res, 200, {
      uuid: doc.uuid, status: doc.status, error: doc.error, payload: doc.status === 'done' ? doc.payload : null,
      timestamp: stamp(), group_code: group, daemon_code: 'double-agent-1', device_code: 'KKT-DOUBLE-1',
      callback_url: doc.request.service?.callback_url ?? '', external_id: doc.externalId,
    })
  }

  const server = createServer({ noDelay: true }, (req, res) => {
    handle(req, res).catch((err: unknown) => reply(res, 500, { error: errorBody(CODES.internal, String(err)) }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}${basePath}/`,
    login, password, group, fnNumber,
    get slowMs() { return state.slowMs },
    set slowMs(ms: number) { state.slowMs = ms },
    get duplicateExternalId() { return state.duplicateExternalId },
    set duplicateExternalId(b: DuplicateBehaviour) { state.duplicateExternalId = b },
    fail5xx: (n) => { pending5xx += n },
    timeoutNext: (n, mode = 'hang') => { pendingTimeouts = [...pendingTimeouts, ...Array<typeof mode>(n).fill(mode)] },
    expireTokens: () => tokens.clear(),
    failNext: (error) => { failQueue.push(error) },
    counters,
    get documents() { settle(); return docs },
    get fnDocuments() { settle(); return fnDocs },
    async stop() {
      stopped = true
      for (const done of [...waits]) done()
      for (const res of hanging) res.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())))
    },
  }
}
