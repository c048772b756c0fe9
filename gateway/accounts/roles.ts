// Operator roles. Each role may do what the ones below it may: a viewer reads, an operator also
// acknowledges alerts and issues corrections, an admin also provisions and manages accounts.
export const ROLES = ['viewer', 'operator', 'admin'] as const
export type Role = (typeof ROLES)[number]

export const isRole = (s: unknown): s is Role => typeof s === 'string' && (ROLES as readonly string[]).includes(s)

/** True when `role` is `needed` or above it. */
export const atLeast = (role: Role, needed: Role): boolean => ROLES.indexOf(role) >= ROLES.indexOf(needed)

/** Who made a request: a signed-in user or an API key (the OPERATOR_TOKEN is the admin key `OPERATOR_TOKEN`). */
export interface Principal {
  kind: 'user' | 'key'
  name: string
  role: Role
  /** The session's CSRF token (users only). */
  csrf?: string
}

/** How the audit log names a principal: `user:anna`, `key:grafana`. */
export const actorOf = (p: Principal): string => `${p.kind}:${p.name}`
