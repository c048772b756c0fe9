import type { FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import { z } from 'zod'
import { login, logout, sessionPrincipal } from '../accounts/account.repository.js'
import { createLoginThrottle } from '../accounts/login-throttle.js'
import { cookieOf, SESSION_COOKIE } from './operator-auth.js'

export interface AuthRouteDeps {
  db: Kysely<any>
  now: () => Date
  /** Session lifetime, ms. */
  sessionTtlMs: number
  /** Cookies get `Secure` when the console is served over https. */
  secure: boolean
}

const Login = z.strictObject({ username: z.string().min(1).max(64), password: z.string().min(1).max(256) })

/** `POST /auth/login` and `POST /auth/logout`: the console's session in an httpOnly, SameSite=Strict cookie. */
export async function authRoutes(app: FastifyInstance, deps: AuthRouteDeps): Promise<void> {
  const cookie = (value: string, maxAgeS: number) =>
    `${SESSION_COOKIE}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${deps.secure ? '; Secure' : ''}`
  app.addHook('onSend', async (_req, reply) => { reply.header('cache-control', 'no-store') })
  const throttle = createLoginThrottle({ limit: 10, windowMs: 15 * 60_000, now: deps.now })

  app.post('/login', async (req, reply) => {
    const body = Login.safeParse(req.body)
    if (!body.success) return reply.code(400).send({ error: 'bad request', problems: body.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) })
    const name = body.data.username
    const wait = throttle.waitMs(name)
    if (wait > 0) return reply.code(429).header('retry-after', String(Math.ceil(wait / 1000))).send({ error: 'too many failed sign-ins: try again later' })
    const session = await login(deps.db, name, body.data.password, deps.now(), deps.sessionTtlMs)
    if (!session) {
      throttle.failed(name)
      return reply.code(401).send({ error: 'wrong username or password' })
    }
    throttle.succeeded(name)
    const { role, csrf } = session.principal
    return reply.header('set-cookie', cookie(session.token, Math.floor(deps.sessionTtlMs / 1000)))
      .send({ username: name, role, csrf, expiresAt: session.expiresAt })
  })

  // Who is signed in, for the console's first paint: 200 either way, so a signed-out page load
  // shows the sign-in form without a failed request in the browser's console.
  app.get('/session', async (req) => {
    const token = cookieOf(req, SESSION_COOKIE)
    const p = token ? await sessionPrincipal(deps.db, token, deps.now()) : null
    return p ? { signedIn: true, name: p.name, role: p.role, csrf: p.csrf } : { signedIn: false }
  })

  // Needs no CSRF token: the worst a forged logout can do is sign someone out.
  app.post('/logout', async (req, reply) => {
    const token = cookieOf(req, SESSION_COOKIE)
    if (token) await logout(deps.db, token)
    return reply.header('set-cookie', cookie('', 0)).send({ ok: true })
  })
}
