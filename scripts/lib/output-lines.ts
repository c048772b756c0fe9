import type { Readable } from 'node:stream'

export interface OutputLines {
  /** The last lines written (stdout and stderr), for a failure message. */
  tail(lines?: number): string
  /** Resolves with the first line matching `pattern`; rejects on timeout or when the process ends first. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>
}

/**
 * A child process's output read as lines: the last `keep` kept in memory, each passed to `onLines`
 * as it comes (a log file), and waits for a line. `ended` resolves, with how it ended, when the
 * process is gone.
 */
export function watchOutput(
  name: string, streams: readonly Readable[], ended: Promise<string>,
  options: { keep?: number; onLines?: (lines: readonly string[]) => void } = {},
): OutputLines {
  const keep = options.keep ?? 200
  const lines: string[] = []
  const watchers = new Set<(line: string) => void>()
  for (const stream of streams) {
    let partial = ''
    stream.setEncoding('utf8')
    stream.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n')
      partial = parts.pop() ?? ''
      options.onLines?.(parts)
      for (const line of parts) {
        lines.push(line)
        if (lines.length > keep) lines.shift()
        for (const watch of watchers) watch(line)
      }
    })
  }
  const tail = (n = 40) => lines.slice(-n).join('\n')
  return {
    tail,
    waitForLine(pattern, timeoutMs) {
      const seen = lines.find((l) => pattern.test(l))
      if (seen !== undefined) return Promise.resolve(seen)
      return new Promise((resolve, reject) => {
        const done = (err: Error | null, line?: string) => {
          clearTimeout(timer)
          watchers.delete(watch)
          if (err) reject(err)
          else resolve(line!)
        }
        const watch = (line: string) => { if (pattern.test(line)) done(null, line) }
        const timer = setTimeout(() => done(new Error(`${name}: no line matching ${pattern} within ${timeoutMs} ms\n${tail()}`)), timeoutMs)
        watchers.add(watch)
        void ended.then((how) => done(new Error(`${name} ended (${how}) before printing ${pattern}\n${tail()}`)))
      })
    },
  }
}
