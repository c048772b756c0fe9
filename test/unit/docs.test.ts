import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

// The README documents every environment variable the code reads, and the code's comments cite
// documents (and sections) that exist in the repository.
const SOURCE_DIRS = ['protocol', 'broker', 'gateway', 'device-sim', 'scripts']

function files(dir: string, ext: RegExp): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : files(path, ext)
    return ext.test(name) ? [path] : []
  })
}

/** Keys of a zod env schema (`NAME: z…` in a config.ts) and every `process.env.NAME` / `process.env['NAME']`. */
function envNamesRead(path: string, source: string): string[] {
  const names = [...source.matchAll(/process\.env(?:\.([A-Z][A-Z0-9_]*)|\[['"]([A-Z][A-Z0-9_]*)['"]\])/g)].map((m) => (m[1] ?? m[2])!)
  if (/config\.ts$/.test(path)) names.push(...[...source.matchAll(/^\s+([A-Z][A-Z0-9_]+): [a-zA-Z]/gm)].map((m) => m[1]!))
  return names
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchors(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/^#+ (.+)$/gm)].map((m) =>
    m[1]!.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/ /g, '-')))
}

const readme = readFileSync('README.md', 'utf8')
const configSection = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1))

describe('documentation', () => {
  const sources = SOURCE_DIRS.flatMap((dir) => files(dir, /\.ts$/)).map((path) => ({ path, text: readFileSync(path, 'utf8') }))

  it('finds the variables the configuration schemas read', () => {
    const read = new Set(sources.flatMap(({ path, text }) => envNamesRead(path, text)))
    for (const name of ['DATABASE_URL', 'OPERATOR_TOKEN', 'ALERT_PENDING_S', 'BROKER_CREDENTIALS_POLL_MS', 'MQTT_HOST', 'KASSA_ID']) expect(read.has(name), name).toBe(true)
  })

  it('lists in the README every environment variable the code reads', () => {
    const missing = sources.flatMap(({ path, text }) => envNamesRead(path, text)
      .filter((name) => !configSection.includes(`\`${name}\``)).map((name) => `${name} (${path})`))
    expect([...new Set(missing)]).toEqual([])
  })

  it('cites only documents and sections that exist', () => {
    const tests = files('test', /\.ts$/).filter((path) => !path.endsWith('docs.test.ts')).map((path) => ({ path, text: readFileSync(path, 'utf8') }))
    const texts = [...sources, ...tests, ...['README.md', 'device-sim/README.md', 'docs/contract.md', 'docs/fiscal.md', 'docs/performance.md'].map((path) => ({ path, text: readFileSync(path, 'utf8') }))]
    const bad: string[] = []
    for (const { path, text } of texts) {
      if (/DESIGN\.md|STYLE\.md|shared\//.test(text)) bad.push(`${path}: cites a document outside the repository`)
      for (const m of text.matchAll(/((?:docs\/)?[\w-]+\.md)#([\w-]+)/g)) {
        const doc = m[1] === 'README.md' || m[1] === 'contract.md' ? (m[1] === 'contract.md' ? 'docs/contract.md' : 'README.md') : m[1]!
        let target: string
        try {
          target = readFileSync(doc, 'utf8')
        } catch {
          bad.push(`${path}: ${m[0]} (no such file)`)
          continue
        }
        if (!anchors(target).has(m[2]!)) bad.push(`${path}: ${m[0]} (no such section)`)
      }
      // Every document named exists; numbered sections (`docs/fiscal.md §3.2`) have their heading.
      for (const m of text.matchAll(/(?<![\w$/.-])([A-Za-z][\w./-]*\.md)\b(?: §(\d+(?:\.\d+)?))?/g)) {
        const doc = m[1]!.replace(/^\.\.\//, '')
        const candidates = [doc, `${path.replace(/[^/]*$/, '')}${doc}`]
        const found = candidates.find((c) => existsSync(c))
        if (!found) { bad.push(`${path}: ${m[1]} (no such file)`); continue }
        if (m[2] && !new RegExp(`^#+ ${m[2].replace('.', '\\.')}[. ]`, 'm').test(readFileSync(found, 'utf8'))) bad.push(`${path}: ${m[0]} (no such section)`)
      }
    }
    expect(bad).toEqual([])
  })
})
