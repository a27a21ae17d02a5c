/**
 * The window's size and position, remembered between starts (userData/window-state.json). A
 * state that cannot be read, or is absurd, is ignored: the window opens at its default size.
 */
import { readFileSync, writeFileSync } from 'node:fs'

export interface WindowState {
  x?: number
  y?: number
  width: number
  height: number
  maximized: boolean
}

export const WINDOW_DEFAULT: WindowState = { width: 1280, height: 820, maximized: false }
const SIDE_MIN = 400
const SIDE_MAX = 20_000

export function loadWindowState(file: string): WindowState {
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as Partial<WindowState>
    const side = (n: unknown) => typeof n === 'number' && n >= SIDE_MIN && n <= SIDE_MAX
    const at = (n: unknown) =>
      typeof n === 'number' && Number.isInteger(n) && Math.abs(n) <= SIDE_MAX
    if (!side(s.width) || !side(s.height)) return WINDOW_DEFAULT
    return {
      width: s.width!,
      height: s.height!,
      ...(at(s.x) && at(s.y) ? { x: s.x!, y: s.y! } : {}),
      maximized: s.maximized === true,
    }
  } catch {
    return WINDOW_DEFAULT
  }
}

export function saveWindowState(file: string, state: WindowState): void {
  try {
    writeFileSync(file, `${JSON.stringify(state)}\n`)
  } catch {
    // Not remembering the size is no reason to fail closing the window.
  }
}
