/**
 * The Content-Security-Policy of raftdesk's window, one policy for both hosts: the desktop app
 * sends it as a header (main/security.ts) and web mode does too (services/web.ts). Only our own
 * scripts and styles, nothing inline, no plugins, no framing. renderer/index.html carries the
 * same policy in a meta tag (minus frame-ancestors, which only a header can set); a test keeps
 * the two equal.
 */
export const CSP_DIRECTIVES = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
] as const

export const CSP = CSP_DIRECTIVES.join('; ')
