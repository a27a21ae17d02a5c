// The regex worker over many pages, as a long search uses it: answers stay in order and each
// page leaves no listener behind (a leak shows as Node's MaxListenersExceededWarning).
import { describe, expect, it } from 'vitest'
import { RegexMatcher } from '../../../node-core/services/regex-worker'

describe('RegexMatcher', () => {
  it('matches page after page without piling up listeners', async () => {
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(w.name)
    process.on('warning', onWarning)
    const m = new RegexMatcher('b+')
    try {
      for (let page = 0; page < 30; page++) {
        expect(await m.match(['abbc', 'xyz', `${'a'.repeat(page)}b`])).toEqual([
          [1, 3],
          null,
          [page, page + 1],
        ])
      }
      await new Promise((r) => setTimeout(r, 10))
      expect(warnings).not.toContain('MaxListenersExceededWarning')
    } finally {
      m.close()
      process.off('warning', onWarning)
    }
  })
})
