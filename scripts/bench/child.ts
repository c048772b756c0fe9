import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { watchOutput } from '../lib/output-lines.js'

// A part of the system (broker, gateway, echo responder) as its own process: honest per-process
// RSS and CPU from /proc, and the simulator does not compete with it in one event loop. Run as
// `node --import tsx <file>` (not the `tsx` wrapper, whose pid would not be the real process).

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const CLK_TCK = 100 // Linux USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s

export interface ProcStats {
  /** MiB resident now, and the peak (VmHWM). */
  rssMiB: number
  hwmMiB: number
  /** s of CPU (user + system) since the process started. */
  cpuS: number
}

export interface Child {
  readonly name: string
  readonly pid: number
  readonly proc: ChildProcess
  stats(): ProcStats | null
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>
  tail(lines?: number): string
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>
}

const live = new Set<Child>()
process.on('exit', () => { for (const c of live) c.proc.kill('SIGKILL') })

export function readProcStats(pid: number): ProcStats | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0)
    // Fields after the command name (which may hold spaces) start after its closing parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[11]) + Number(fields[12]) // utime, stime (fields 14, 15)
    return { rssMiB: Math.round(kb('VmRSS') / 102.4) / 10, hwmMiB: Math.round(kb('VmHWM') / 102.4) / 10, cpuS: ticks / CLK_TCK }
  } catch {
    return null
  }
}

export function startChild(name: string, file: string, env: Record<string, string>, options: { nodeArgs?: string[]; ipc?: boolean } = {}): Child {
  const proc = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', file], {
    cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe', ...(options.ipc ? ['ipc' as const] : [])],
  })
  if (proc.pid === undefined) throw new Error(`${name}: could not start ${file}`)
  let exited = false
  const exit = new Promise<string>((resolve) => proc.once('exit', (code, signal) => { exited = true; live.delete(child); resolve(String(code ?? signal)) }))
  const output = watchOutput(name, [proc.stdout!, proc.stderr!], exit)
  const pid = proc.pid
  const child: Child = {
    name, pid, proc,
    stats: () => (exited ? null : readProcStats(pid)),
    tail: (n = 30) => output.tail(n),
    waitForLine: (pattern, timeoutMs = 60_000) => output.waitForLine(pattern, timeoutMs),
    async stop(graceMs = 20_000) {
      if (exited) return
      proc.kill('SIGTERM')
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs)
      await exit
      clearTimeout(timer)
    },
  }
  live.add(child)
  return child
}
