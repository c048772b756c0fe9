import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { watchOutput } from '../lib/output-lines.js'

// One part of the system (broker, gateway) as a real OS process, for the chaos harness and the
// e2e tests. A TypeScript file runs as `node --import tsx <file>`, not through the `tsx` command:
// that one is a wrapper that starts node as its own child, so a SIGKILL would hit the wrapper and
// leave the real process running. A compiled one (dist/…, `npm run build`) runs as `node <file>`.

export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url))

export interface ServiceExit { code: number | null; signal: NodeJS.Signals | null }

export interface ServiceProcess {
  readonly name: string
  readonly pid: number
  readonly child: ChildProcess
  /** Resolves when the process has ended. */
  readonly exited: Promise<ServiceExit>
  readonly alive: boolean
  kill(signal: NodeJS.Signals): void
  /** Resident set size in bytes (Linux /proc), or null once it is gone. */
  rss(): number | null
  /** The last lines it wrote (stdout and stderr), for a failure message. */
  tail(lines?: number): string
  /** Resolves with the first output line matching `pattern` (rejects if the process ends first). */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>
}

const live = new Set<ServiceProcess>()
let exitHookInstalled = false

/** Whatever happens to the parent, its children do not outlive it. */
function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => killAllServices())
}

/** SIGKILLs every service still running (synchronous: usable from an 'exit' handler). */
export function killAllServices(): void {
  for (const service of live) if (service.alive) service.kill('SIGKILL')
}

export interface ServiceOptions {
  /** Output lines kept in memory for tail(); default 200. */
  keepLines?: number
  /** Appends every output line to this file as well (a whole run's log, for diagnosis). */
  logFile?: string
  /** Node's own flags before the script (`--cpu-prof` …). */
  nodeArgs?: readonly string[]
}

export function startService(name: string, file: string, env: Record<string, string>, options: ServiceOptions = {}): ServiceProcess {
  installExitHook()
  const loader = file.endsWith('.js') ? [] : ['--import', 'tsx']
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...loader, file], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  if (child.pid === undefined) throw new Error(`${name}: could not start ${file}`)
  let exitState: ServiceExit | null = null
  const logFile = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : null
  const exited = new Promise<ServiceExit>((resolve) => {
    child.once('exit', (code, signal) => {
      exitState = { code, signal }
      live.delete(service)
      resolve(exitState)
    })
  })
  const output = watchOutput(name, [child.stdout!, child.stderr!], exited.then((e) => String(e.code ?? e.signal)), {
    keep: options.keepLines ?? 200,
    ...(logFile ? { onLines: (lines: readonly string[]) => logFile.write(lines.map((l) => `${l}\n`).join('')) } : {}),
  })
  // 'close' comes after the last output line, 'exit' may come before it.
  child.once('close', (code, signal) => logFile?.end(`--- ${name} exited: ${code ?? signal}\n`))
  const pid = child.pid
  const service: ServiceProcess = {
    name, pid, child, exited,
    get alive() { return exitState === null },
    kill(signal) {
      if (exitState === null) child.kill(signal)
    },
    rss() {
      try {
        const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
        return m ? Number(m[1]) * 1024 : null
      } catch {
        return null
      }
    },
    tail: (n = 40) => output.tail(n),
    waitForLine: (pattern, timeoutMs = 30_000) => output.waitForLine(pattern, timeoutMs),
  }
  live.add(service)
  return service
}
