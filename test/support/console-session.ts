// A console client as a browser holds it: the session cookie and the CSRF token from sign-in.
export interface ConsoleSession {
  status: number
  role: string
  csrf: string
  cookie: string
  /** A request with the session's cookie (and its CSRF token unless `csrf: false`). */
  call(method: string, path: string, body?: unknown, opts?: { csrf?: boolean }): Promise<{ status: number; body: any; headers: Headers }>
}

export async function signIn(base: string, username: string, password: string): Promise<ConsoleSession> {
  const res = await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) })
  const body = await res.json() as { role?: string; csrf?: string }
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!
  return {
    status: res.status, role: body.role ?? '', csrf: body.csrf ?? '', cookie,
    async call(method, path, payload, opts = {}) {
      const headers: Record<string, string> = { cookie, accept: 'application/json' }
      if (payload !== undefined) headers['content-type'] = 'application/json'
      if (opts.csrf !== false) headers['x-csrf-token'] = body.csrf ?? ''
      const r = await fetch(`${base}${path}`, { method, headers, ...(payload === undefined ? {} : { body: JSON.stringify(payload) }) })
      const text = await r.text()
      return { status: r.status, body: (r.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text, headers: r.headers }
    },
  }
}
