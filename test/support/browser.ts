import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'

// Debian's Chromium driven by playwright-core: headless, offline-quiet, a fresh profile each run.
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

export interface Browser {
  context: BrowserContext
  /** Console errors and uncaught exceptions of every page opened, with the page's URL. */
  errors: string[]
  page(width: number): Promise<Page>
  close(): Promise<void>
}

export async function launchBrowser(): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'vg-chromium-'))
  // A persistent context is how playwright takes a --user-data-dir of our choosing (headless adds --headless).
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: FLAGS, locale: 'ru-RU', timezoneId: 'Europe/Moscow', acceptDownloads: true,
  })
  const errors: string[] = []
  return {
    context, errors,
    async page(width) {
      const page = await context.newPage()
      await page.setViewportSize({ width, height: width < 600 ? 844 : 900 })
      page.on('console', (m) => { if (m.type() === 'error') errors.push(`${page.url()}: ${m.text()}`) })
      page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`))
      return page
    },
    async close() {
      await context.close()
      await rm(profile, { recursive: true, force: true })
    },
  }
}

/** How far the page is wider than its viewport (0 when nothing overflows sideways). */
export const overflow = (page: Page): Promise<number> =>
  page.evaluate(() => {
    // Runs in the page; the project's TypeScript has no DOM types, hence the casts.
    const w = globalThis as unknown as { innerWidth: number; document: { documentElement: { scrollWidth: number }; body: { scrollWidth: number } } }
    return Math.max(w.document.documentElement.scrollWidth, w.document.body.scrollWidth) - w.innerWidth
  })
