/**
 * Window state that belongs to no contract namespace: the view shown, the theme (following the
 * system unless the person picks one) and the language. Choices persist in localStorage.
 */
import { defineStore } from 'pinia'
import { ref, watch } from 'vue'

export type View = 'keys' | 'watch' | 'leases' | 'access' | 'cluster' | 'raft' | 'about'

export const VIEWS: readonly View[] = [
  'keys',
  'watch',
  'leases',
  'access',
  'cluster',
  'raft',
  'about',
]
export type ThemeChoice = 'system' | 'light' | 'dark'

function stored<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
  try {
    const v = localStorage.getItem(`raftdesk.${name}`)
    return allowed.includes(v as T) ? (v as T) : fallback
  } catch {
    return fallback
  }
}

function keep(name: string, value: string): void {
  try {
    localStorage.setItem(`raftdesk.${name}`, value)
  } catch {
    // private windows may refuse: the choice lasts this session
  }
}

export const useUiStore = defineStore('ui', () => {
  const view = ref<View>(stored('view', VIEWS, 'keys'))
  const theme = ref<ThemeChoice>(stored('theme', ['system', 'light', 'dark'], 'system'))
  watch(view, (v) => keep('view', v))
  watch(theme, (t) => keep('theme', t), { immediate: false })

  /** The theme actually shown. */
  function effectiveTheme(): 'light' | 'dark' {
    if (theme.value !== 'system') return theme.value
    return matchMedia('(prefers-color-scheme: light)').matches ? 'light' : 'dark'
  }

  /** The theme on screen now (charts read their colours again when it changes). */
  const shownTheme = ref<'light' | 'dark'>('dark')

  function applyTheme(): void {
    shownTheme.value = effectiveTheme()
    document.documentElement.dataset['theme'] = shownTheme.value
  }

  function cycleTheme(): void {
    const order: ThemeChoice[] = ['system', 'light', 'dark']
    theme.value = order[(order.indexOf(theme.value) + 1) % order.length]!
    applyTheme()
  }

  return { view, theme, shownTheme, applyTheme, cycleTheme, effectiveTheme }
})
