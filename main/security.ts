/**
 * Window and session hardening, following Electron's security checklist: context isolation,
 * sandbox, no Node in the renderer, a strict Content-Security-Policy, no navigation away from
 * the app, no new windows, no webviews, no permissions granted.
 */
import type { Session, WebContents, WebPreferences } from 'electron'
import { CSP } from '../node-core/kernel/csp'

/** The policy for packaged builds: the one policy of kernel/csp.ts. */
export const CSP_PRODUCTION = CSP

/**
 * The dev server injects styles inline and talks to its HMR WebSocket, so development relaxes
 * exactly those two directives and nothing else.
 */
export function contentSecurityPolicy(devServerUrl?: string): string {
  if (!devServerUrl) return CSP_PRODUCTION
  const ws = devServerUrl.replace(/^http/, 'ws')
  return CSP_PRODUCTION.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'").replace(
    "connect-src 'self'",
    `connect-src 'self' ${ws}`,
  )
}

export function secureWebPreferences(preloadPath: string): WebPreferences {
  return {
    preload: preloadPath,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    spellcheck: false,
  }
}

/**
 * Adds the CSP header to every response and refuses every permission request but one: the
 * app's own page may show desktop notifications (a watch's, when the person asked for them).
 */
export function hardenSession(
  session: Session,
  csp: string,
  isAppUrl: (url: string) => boolean = () => false,
): void {
  session.webRequest.onHeadersReceived((details, callback) => {
    callback({
      responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [csp] },
    })
  })
  session.setPermissionRequestHandler((contents, permission, callback) =>
    callback(permission === 'notifications' && isAppUrl(contents?.getURL() ?? '')),
  )
}

/**
 * The app's own page is the only place a window may show. Links and redirects elsewhere are
 * refused, window.open is refused, webviews are refused.
 */
export function hardenWebContents(contents: WebContents, isAppUrl: (url: string) => boolean) {
  contents.on('will-navigate', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault()
  })
  contents.on('will-redirect', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault()
  })
  contents.on('will-attach-webview', (event) => event.preventDefault())
  contents.setWindowOpenHandler(() => ({ action: 'deny' }))
}

/** Compares two URLs ignoring the hash and the query: the page is the same page. */
export function samePage(a: string, b: string): boolean {
  try {
    const ua = new URL(a)
    const ub = new URL(b)
    return ua.protocol === ub.protocol && ua.host === ub.host && ua.pathname === ub.pathname
  } catch {
    return false
  }
}
