import { describe, expect, it } from 'vitest'
import { loggerFrom, silentLogger, type LogLevel } from '../../../node-core/kernel/logger'

describe('kernel logger', () => {
  it('writes every level to its sink, children with their prefixes in order', () => {
    const lines: Array<[LogLevel, string, unknown]> = []
    const log = loggerFrom((level, message, fields) => lines.push([level, message, fields]))
    log.debug('d')
    log.info('i', { n: 1 })
    const api = log.child('api')
    api.warn('slow call')
    api.child('watch').error('stream reset', { id: 7 })
    expect(lines).toEqual([
      ['debug', 'd', undefined],
      ['info', 'i', { n: 1 }],
      ['warn', 'api: slow call', undefined],
      ['error', 'api: watch: stream reset', { id: 7 }],
    ])
  })

  it('has a silent logger whose children are silent too', () => {
    expect(() => silentLogger.child('x').error('nothing')).not.toThrow()
  })
})
