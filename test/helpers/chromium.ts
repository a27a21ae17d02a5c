/**
 * Launching Debian's Chromium through playwright-core for browser tests.
 *
 * Locally a missing Chromium skips the browser tests with a visible reason; under CI=true a
 * missing Chromium is a failure, because CI installs it and a silent skip would hide a broken
 * install.
 */
import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

export const CHROMIUM_PATH = process.env['RAFTDESK_CHROMIUM'] ?? '/usr/bin/chromium'

// The flags DESIGN.md names: headless, no sandbox (we run as root in CI), and nothing that
// reaches for the network this machine does not have.
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM_PATH)
}

/** True when browser tests must run: Chromium is there, or CI demands it (and then fails). */
export function shouldRunBrowserTests(): boolean {
  if (chromiumAvailable()) return true
  if (process.env['CI'] === 'true') return true
  console.warn(`skipping browser tests: no Chromium at ${CHROMIUM_PATH} (apt-get install chromium)`)
  return false
}

export async function launchChromium(): Promise<Browser> {
  if (!chromiumAvailable()) {
    throw new Error(
      `Chromium is required at ${CHROMIUM_PATH} (CI=${process.env['CI'] ?? ''}); install the Debian package chromium`,
    )
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true })
}
