// The WAL inspector: the first local node's WAL opens by itself at its newest segment; records
// with their type, index and decoded operation, a bad crc marked, damage named at its offset;
// another directory typed by hand; verify streams progress and names each problem.
import { flushPromises } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import type { WalPage, WalSummary } from '../../contract'
import WalInspector from '../../renderer/src/features/raft/WalInspector.vue'
import { mountWithHost } from './fake-host'

const summary = (dir: string, format: WalSummary['format']): WalSummary => ({
  dir,
  format,
  bytes: 3 * 1024,
  segments: [
    { name: '0000000000000000-0000000000000001.wal', seq: 0, firstIndex: 1, bytes: 2048 },
    { name: '0000000000000001-0000000000000041.wal', seq: 1, firstIndex: 65, bytes: 1024 },
  ],
})
const page: WalPage = {
  segment: '0000000000000001-0000000000000041.wal',
  from: 0,
  total: 3,
  records: [
    { offset: 0, bytes: 24, type: 'crc', crcOk: true },
    { offset: 24, bytes: 40, type: 'hardState', crcOk: true, term: 3, vote: 'a1', commit: 65 },
    {
      offset: 64,
      bytes: 56,
      type: 'entry',
      crcOk: false,
      index: 65,
      term: 3,
      entryType: 'normal',
      op: 'put "greeting" = "hello"',
    },
  ],
  damage: { segment: 'x', offset: 120, reason: 'the record ends past the file', torn: true },
}

describe('WalInspector', () => {
  it('opens the first node’s WAL at its newest segment, shows records and damage, verifies', async () => {
    const { w, calls, emit } = mountWithHost(WalInspector, {
      'wal/sources': () => [{ name: 'n1', dir: '/data/n1' }],
      'wal/open': ([a]) => summary((a as { dir: string }).dir, 'raftdesk'),
      'wal/records': () => page,
    })
    await flushPromises()
    expect(calls.find(([c]) => c === 'wal/open')![1]).toEqual([{ dir: '/data/n1' }])
    expect(calls.find(([c]) => c === 'wal/records')![1]).toMatchObject([
      { dir: '/data/n1', segment: '0000000000000001-0000000000000041.wal', from: 0 },
    ])
    const rows = w.findAll('[data-test=wal-record]')
    expect(rows).toHaveLength(3)
    expect(rows[1]!.text()).toContain('term 3')
    expect(rows[2]!.text()).toContain('put "greeting" = "hello"')
    expect(rows[2]!.find('td.error').text()).toBe('✗')
    expect(w.find('[data-test=wal-damage]').text()).toMatch(/Torn tail.*120.*ends past the file/)

    await w.find('[data-test=wal-verify]').trigger('click')
    expect(calls.at(-1)).toEqual(['wal/verify', [{ dir: '/data/n1' }]])
    emit('wal/verify', {
      segments: 2,
      segmentsDone: 1,
      bytes: 3072,
      bytesDone: 1536,
      records: 40,
      problems: [],
      done: false,
    })
    await flushPromises()
    expect(
      w.find('[data-test=wal-verify-result] [role=progressbar]').attributes('aria-valuenow'),
    ).toBe('50')
    emit('wal/verify', {
      segments: 2,
      segmentsDone: 2,
      bytes: 3072,
      bytesDone: 3072,
      records: 66,
      problems: [
        {
          segment: '0000000000000001-0000000000000041.wal',
          offset: 64,
          reason: 'crc mismatch',
          torn: false,
        },
      ],
      done: true,
    })
    await flushPromises()
    expect(w.find('[data-test=wal-problem]').text()).toMatch(
      /Corruption\s+0000000000000001-0000000000000041\.wal @ 64: crc mismatch/,
    )
    w.unmount()
  })

  it('opens a directory typed by hand and says what it is, or why not', async () => {
    const { w } = mountWithHost(WalInspector, {
      'wal/sources': () => [],
      'wal/open': ([a]) => {
        const dir = (a as { dir: string }).dir
        if (dir === '/nowhere') throw new Error('/nowhere holds no WAL segments')
        return summary(`${dir}/member/wal`, 'etcd')
      },
      'wal/records': () => ({ ...page, damage: undefined }),
    })
    await flushPromises()
    await w.find('[data-test=wal-source]').setValue('\u0000other')
    await w.find('[data-test=wal-dir]').setValue('/nowhere')
    await w.find('form').trigger('submit')
    await flushPromises()
    expect(w.find('[data-test=wal-error]').text()).toContain('holds no WAL segments')
    await w.find('[data-test=wal-dir]').setValue('/var/lib/etcd')
    await w.find('form').trigger('submit')
    await flushPromises()
    expect(w.find('[data-test=wal-error]').exists()).toBe(false)
    expect(w.find('[data-test=wal-format]').text()).toBe('etcd WAL')
    expect(w.text()).toContain('/var/lib/etcd/member/wal')
    w.unmount()
  })
})
