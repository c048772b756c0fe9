import type { MachineCredentials, MachineCredentialsChange, MachineDirectory } from './machine-directory.js'

/** A directory in memory: for unit tests and for tests that need no database. */
export class MemoryMachineDirectory implements MachineDirectory {
  readonly #rows = new Map<string, MachineCredentialsChange>()

  /** Adds or replaces a machine, as add-machine, rotate-secret and disable-machine do. */
  put(id: string, credentials: MachineCredentials, at: Date = new Date()): void {
    this.#rows.set(id, { id, ...credentials, credentialsAt: at })
  }

  async find(id: string): Promise<MachineCredentials | null> {
    const row = this.#rows.get(id)
    return row ? { secretHash: row.secretHash, disabled: row.disabled } : null
  }

  async upgradeSecretHash(id: string, from: string, to: string): Promise<boolean> {
    const row = this.#rows.get(id)
    if (row?.secretHash !== from) return false
    this.#rows.set(id, { ...row, secretHash: to, credentialsAt: new Date() })
    return true
  }

  async changedSince(since: Date): Promise<MachineCredentialsChange[]> {
    return [...this.#rows.values()].filter((r) => r.credentialsAt > since).map((r) => ({ ...r }))
  }
}
