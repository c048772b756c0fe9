// What the broker needs to know about machines: their login secret (as a hash) and whether they are
// disabled. The fleet CLI writes these; the broker reads them, and rewrites a hash of the former
// scheme (scrypt) in the keyed one after a good login.

export interface MachineCredentials {
  /** `keyedSecretHash` (or former `hashSecret`) output, protocol/secret.ts; the secret itself is never stored. */
  secretHash: string
  disabled: boolean
}

export interface MachineCredentialsChange extends MachineCredentials {
  id: string
  /** Moved on every rotation or disable (machines.credentials_at), on the database's clock. */
  credentialsAt: Date
}

export interface MachineDirectory {
  find(id: string): Promise<MachineCredentials | null>
  /** Machines whose credentials changed after `since` (exclusive). */
  changedSince(since: Date): Promise<MachineCredentialsChange[]>
  /** The clock `credentials_at` is written on (the database's `now()`), for the watcher's window. */
  clock?(): Promise<Date>
  /**
   * Replaces a machine's hash by the same secret's keyed hash, if it is still `from` (a rotation in
   * between wins). Moves credentials_at, so every broker's watcher learns the new hash. True if done.
   */
  upgradeSecretHash?(id: string, from: string, to: string): Promise<boolean>
}
