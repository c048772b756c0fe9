import { execFile } from 'node:child_process'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

// `npm run build` from a script: the broker compiled to plain JavaScript in dist/ (tsconfig.build.json),
// which starts in about half the time of the TypeScript sources loaded through tsx (README.md#reconnect-storm).

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** The compiled broker's entry point, relative to the project root. */
export const BUILT_BROKER = 'dist/scripts/broker.js'

/**
 * Compiles the broker into dist/ (or `outDir`, relative to the project root and inside it, so the
 * compiled files still find node_modules); returns its entry point. Rejects with the compiler's
 * output when it fails.
 */
export async function buildBroker(outDir = 'dist'): Promise<string> {
  const tsc = createRequire(join(ROOT, 'package.json')).resolve('typescript/bin/tsc')
  try {
    await promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', outDir], { cwd: ROOT, timeout: 120_000 })
  } catch (err) {
    const out = err as { stdout?: string; stderr?: string; message: string }
    throw new Error(`the broker did not compile (npm run build): ${out.stdout || out.stderr || out.message}`)
  }
  return join(outDir, 'scripts/broker.js')
}
