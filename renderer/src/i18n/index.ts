/**
 * Every string the window shows goes through vue-i18n. English is the reference; Simplified
 * Chinese is complete (its type is English's), and a language is added by one more file here.
 * The language follows the system's unless the person picks one.
 */
import { createI18n } from 'vue-i18n'
import { en } from './en'
import { zhCN } from './zh-CN'

export const LOCALES = { en: 'English', 'zh-CN': '简体中文' } as const
export type Locale = keyof typeof LOCALES

export function systemLocale(languages: readonly string[]): Locale {
  for (const lang of languages) {
    if (lang.toLowerCase().startsWith('zh')) return 'zh-CN'
    if (lang.toLowerCase().startsWith('en')) return 'en'
  }
  return 'en'
}

export function createAppI18n(locale: Locale) {
  return createI18n({
    legacy: false,
    locale,
    fallbackLocale: 'en',
    messages: { en, 'zh-CN': zhCN },
  })
}
