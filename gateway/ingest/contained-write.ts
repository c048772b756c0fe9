import { isContentDbError } from '../errors.js'

/**
 * A batch write stopped by an error that is not about any one entry (the database away, a
 * deadlock): the first `written` entries are stored, the rest are not. Retry from there.
 */
export class PartialWriteError extends Error {
  constructor(readonly written: number, cause: unknown) {
    super(`batch write stopped after ${written} entries`, { cause })
    this.name = 'PartialWriteError'
  }
}

/**
 * No message can hold up another: `write` stores a batch in one statement, and when PostgreSQL
 * refuses it for what it carries (isContentDbError: a NUL, an invalid byte sequence, a limit),
 * the batch is split in halves until the entry at fault is alone, which goes to `quarantine`
 * (stored as rejected with the database's reason) while every other entry is stored. A batch of
 * n with one bad entry costs about 2·log2(n) statements. Halves run first-half-first, so what is
 * stored is always a prefix of `entries`: any other error ends the write with a
 * PartialWriteError saying how long that prefix is.
 */
export async function writeContained<T>(
  entries: readonly T[],
  write: (batch: readonly T[]) => Promise<void>,
  quarantine: (entry: T, err: unknown) => Promise<void>,
): Promise<{ quarantined: number }> {
  let written = 0
  let quarantined = 0
  async function run(batch: readonly T[]): Promise<void> {
    try {
      await write(batch)
    } catch (err) {
      if (!isContentDbError(err)) throw new PartialWriteError(written, err)
      if (batch.length === 1) {
        try {
          await quarantine(batch[0]!, err)
        } catch (qerr) {
          throw new PartialWriteError(written, qerr)
        }
        quarantined++
      } else {
        const half = Math.ceil(batch.length / 2)
        await run(batch.slice(0, half))
        await run(batch.slice(half))
        return
      }
    }
    written += batch.length
  }
  await run(entries)
  return { quarantined }
}
