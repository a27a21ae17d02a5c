// Invite links as the window reads them: pasted alone or inside a sentence; a link that lacks
// the peer or the token, or carries a malformed one, is not an invite.
import { describe, expect, it } from 'vitest'
import { parseJoinLink } from '../../renderer/src/lib/join-link'

describe('parseJoinLink', () => {
  it('reads peer, token and cluster id, also from inside a sentence', () => {
    const link = 'raftdesk://join?peer=10.0.0.5%3A2380&token=ab12&cluster=1F2e'
    expect(parseJoinLink(link)).toEqual({ peer: '10.0.0.5:2380', token: 'ab12', clusterId: '1f2e' })
    expect(parseJoinLink(`  join us: ${link} (expires never)`)).toEqual({
      peer: '10.0.0.5:2380',
      token: 'ab12',
      clusterId: '1f2e',
    })
    expect(parseJoinLink('raftdesk://join?peer=[::1]:2380&token=t')).toEqual({
      peer: '[::1]:2380',
      token: 't',
      clusterId: '',
    })
  })

  it('refuses what is not an invite', () => {
    expect(parseJoinLink('127.0.0.1:2380')).toBeNull()
    expect(parseJoinLink('raftdesk://join?token=t')).toBeNull()
    expect(parseJoinLink('raftdesk://join?peer=host&token=t')).toBeNull()
    expect(parseJoinLink('raftdesk://join?peer=h:1&token=')).toBeNull()
    expect(parseJoinLink('raftdesk://join?peer=h:1&token=t&cluster=xyz')).toBeNull()
    expect(parseJoinLink('https://join?peer=h:1&token=t')).toBeNull()
  })
})
