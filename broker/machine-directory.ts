// What the broker needs to know about machines: their login secret (as a hash) and whether they are
// disabled. The fleet CLI writes these; the broker only reads them.

export interface MachineCredentials {
  /** `hashSecret` output (protocol/secret.ts); the secret itself is never stored. */
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
}
