import { spawn, type ChildProcess } from 'node:child_process'
import pg from 'pg'
import { PROJECT_ROOT } from '../../scripts/chaos/service-process.js'
import { TEST_SERVER_URL } from './database.js'

// `npm run chaos` as the chaos tests run it: the harness in its own process group (with its brokers,
// gateways and Redis), its JSON verdict read from the last line of stdout.

export interface HarnessRun {
  code: number | null
  verdict: Record<string, any>
  /** The verdict without its long lists, for assertion messages. */
  summary: string
  stderr: string
}

export function chaosHarness() {
  let harness: ChildProcess | null = null
  return {
    async run(args: readonly string[]): Promise<HarnessRun> {
      const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/chaos.ts', ...args, '--json'], {
        cwd: PROJECT_ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, DATABASE_URL: TEST_SERVER_URL },
      })
      harness = child
      let stdout = ''
      let stderr = ''
      child.stdout!.on('data', (c: Buffer) => { stdout += c.toString() })
      child.stderr!.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-20_000) })
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
      const verdict = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, any>
      return { code, verdict, summary: JSON.stringify({ ...verdict, stops: undefined, unexpectedExits: undefined }), stderr }
    },
    /** Kills what a failed run left (one kill for the whole group) and drops its database. */
    async cleanup(): Promise<void> {
      if (harness?.pid !== undefined && harness.exitCode === null) process.kill(-harness.pid, 'SIGKILL')
      // A harness killed before its cleanup leaves its database behind (named after its pid).
      if (harness?.pid !== undefined) {
        const client = new pg.Client({ connectionString: TEST_SERVER_URL })
        await client.connect()
        const left = await client.query<{ datname: string }>(`select datname from pg_database where datname like $1`, [`vt_chaos_${harness.pid}_%`])
        for (const { datname } of left.rows) await client.query(`drop database if exists ${datname} with (force)`)
        await client.end()
      }
    },
  }
}
