// The operator API as a test client: GET with (or without) the Bearer token.
export const OPERATOR_TOKEN = 'test-operator-token-0123456789'

export interface ApiAnswer<T = any> { status: number; body: T; headers: Headers }

export function operatorApi(port: number, token: string | null = OPERATOR_TOKEN) {
  return async function get<T = any>(path: string): Promise<ApiAnswer<T>> {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } })
    const text = await res.text()
    const body = (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text
    return { status: res.status, body: body as T, headers: res.headers }
  }
}
