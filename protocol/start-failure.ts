// A process that cannot start says so in one or two lines: what failed, the cause as the system
// or the server put it, and what to do. The stack is for LOG_LEVEL=debug. Shared by every part's
// main (broker, gateway, fleet, npm start), which is why it lives beside the contract. Pure: who
// holds a taken port is looked up by the caller's `portOwner` (port-owner.ts reads it from /proc).

export interface StartFailureAdvice {
  /** What to do when a connection is refused (which server it was depends on the part). */
  refused?: string
  /** The variable that sets each port the part listens on: `{ 8080: 'HTTP_PORT' }`. */
  ports?: Record<number, string>
}

export type PortOwner = (port: number) => { pid: number; command: string } | null

type Errno = Error & { code?: string; address?: string; port?: number; syscall?: string; hostname?: string; path?: string; errors?: unknown[] }

/** The innermost cause: what actually went wrong (an AggregateError's first error for dual-stack connects). */
export function rootCause(err: unknown): unknown {
  let e = err
  for (let i = 0; i < 10; i++) {
    const next = (e as Errno | null)?.cause ?? ((e as Errno | null)?.errors?.[0])
    if (next === undefined || next === null) break
    e = next
  }
  return e
}

function causeAndAdvice(root: unknown, advice: StartFailureAdvice, portOwner: PortOwner): [string, string] {
  const e = (root ?? {}) as Errno
  const message = e.message ?? String(root)
  switch (e.code) {
    case 'ECONNREFUSED':
      return [`ECONNREFUSED ${e.address}:${e.port}`, advice.refused ?? 'start the server it names, or point the configuration elsewhere']
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return [`host ${e.hostname} not found (${e.code})`, 'check the host name in the URL']
    case 'ETIMEDOUT':
      return [`${message} (ETIMEDOUT)`, 'check that the host is reachable and the port open']
    case 'EADDRINUSE': {
      const owner = e.port === undefined ? null : portOwner(e.port)
      const variable = e.port === undefined ? undefined : advice.ports?.[e.port]
      return [`port ${e.port} is taken${owner ? ` by pid ${owner.pid} (${owner.command})` : ''}`,
        `stop that process${variable ? `, or set ${variable} to a free port` : ', or choose another port'}`]
    }
    case 'EACCES':
    case 'EPERM':
      return [`${message}`, e.syscall === 'listen' ? 'ports below 1024 need privileges: choose a port from 1024 up' : 'check the permissions of that path']
    case 'ENOENT':
      return [`no such file or directory: ${e.path ?? message}`, 'check the path in the configuration']
    case '3D000': // invalid_catalog_name
      return [message, 'create it (createdb NAME, or CREATE DATABASE) or point DATABASE_URL at one that exists']
    case '28000': // invalid_authorization_specification: role does not exist
    case '28P01': // invalid_password
      return [message, 'check the user and password in DATABASE_URL (CREATE ROLE … LOGIN creates a user)']
    default:
      return [message, '']
  }
}

/**
 * `cannot start: <what failed> (<cause>)` and, on a second line, what to do. With `debug`, the
 * stack of the error and its causes follows.
 */
export function describeStartFailure(err: unknown, options: { debug: boolean; advice?: StartFailureAdvice; portOwner?: PortOwner }): string {
  const root = rootCause(err)
  const outer = err instanceof Error ? err.message : String(err)
  const [cause, todo] = causeAndAdvice(root, options.advice ?? {}, options.portOwner ?? (() => null))
  // The outer message says what failed (GW_ERR_MIGRATION: …) and often quotes the cause already.
  const first = outer.split('\n')[0]!
  const head = root === err ? cause : first.includes(cause) ? first : `${first}: ${cause}`
  const lines = [`cannot start: ${head}`, ...(todo ? [`  ${todo}`] : [])]
  if (options.debug) {
    for (let e: unknown = err, i = 0; e && i < 10; e = (e as Errno).cause, i++) lines.push(e instanceof Error ? (e.stack ?? e.message) : String(e))
  }
  return lines.join('\n')
}
