/**
 * Keys and values are bytes. The window shows them as UTF-8 text when they are, and with
 * escapes (\xNN) where they are not, so no byte is ever hidden or changed by showing it.
 * Rows are identified by their bytes as a "binary string" (one char per byte), which compares
 * like the bytes do and works as a Map key.
 */

const strict = new TextDecoder('utf-8', { fatal: true })

/** C0 controls and DEL, which would hide or garble what a label shows. */
export function hasControl(text: string, allowed = ''): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if ((c < 0x20 || c === 0x7f) && !allowed.includes(text[i]!)) return true
  }
  return false
}

const encoder = new TextEncoder()

export function utf8(text: string): Uint8Array {
  return encoder.encode(text)
}

/** The bytes as text if they are valid UTF-8, else null. */
export function asText(bytes: Uint8Array): string | null {
  try {
    return strict.decode(bytes)
  } catch {
    return null
  }
}

/** A label that shows every byte: UTF-8 text, with \xNN for bytes that are not. */
export function displayBytes(bytes: Uint8Array): string {
  const text = asText(bytes)
  if (text !== null && !hasControl(text)) return text
  let out = ''
  let i = 0
  while (i < bytes.length) {
    // Take the longest valid UTF-8 run that starts here, else escape one byte.
    let taken = false
    for (let len = Math.min(4, bytes.length - i); len >= 1; len--) {
      const piece = asText(bytes.subarray(i, i + len))
      if (piece !== null && piece.length > 0 && !hasControl(piece)) {
        out += piece
        i += len
        taken = true
        break
      }
    }
    if (!taken) {
      out += `\\x${bytes[i]!.toString(16).padStart(2, '0')}`
      i++
    }
  }
  return out
}

/** One char per byte: an identity for Maps and sorting that keeps byte order. */
export function bytesId(bytes: Uint8Array): string {
  let s = ''
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, i + 8192))
  }
  return s
}

export function idBytes(id: string): Uint8Array {
  const out = new Uint8Array(id.length)
  for (let i = 0; i < id.length; i++) out[i] = id.charCodeAt(i)
  return out
}

export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

export function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (prefix.length > bytes.length) return false
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false
  return true
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`
  return `${(n / 1024 ** 3).toFixed(2)} GiB`
}
