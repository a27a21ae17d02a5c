import { describe, expect, it, vi } from 'vitest'
import { RaftdeskError } from '../../../node-core/errors'
import { dispatch, type Handlers } from '../../../node-core/services/router'

const refuse = () => {
  throw new Error('not under test')
}

function handlers(info: Handlers['app/info']): Handlers {
  return {
    'app/info': info,
    'app/startup': refuse,
    'kv/list': refuse,
    'kv/count': refuse,
    'kv/get': refuse,
    'kv/put': refuse,
    'kv/delete': refuse,
    'kv/history': refuse,
    'bulk/import': refuse,
    'bulk/rename': refuse,
    'auth/overview': refuse,
    'auth/whoami': refuse,
    'auth/setEnabled': refuse,
    'auth/addUser': refuse,
    'auth/deleteUser': refuse,
    'auth/setPassword': refuse,
    'auth/grantRole': refuse,
    'auth/revokeRole': refuse,
    'auth/addRole': refuse,
    'auth/deleteRole': refuse,
    'auth/grantPermission': refuse,
    'auth/revokePermission': refuse,
    'cluster/summary': refuse,
    'connections/list': refuse,
    'connections/add': refuse,
    'connections/remove': refuse,
    'connections/test': refuse,
    'leases/list': refuse,
    'leases/grant': refuse,
    'leases/revoke': refuse,
    'leases/keepAlive': refuse,
    'raft/available': refuse,
    'raft/cluster': refuse,
    'raft/log': refuse,
    'raft/events': refuse,
    'raft/history': refuse,
    'raft/act': refuse,
    'raft/sources': refuse,
    'join/list': refuse,
    'join/start': refuse,
    'join/promote': refuse,
    'join/retry': refuse,
    'join/leave': refuse,
    'join/invite': refuse,
    'maintenance/overview': refuse,
    'maintenance/compact': refuse,
    'maintenance/defragment': refuse,
    'maintenance/disarm': refuse,
    'maintenance/hashCheck': refuse,
    'wal/sources': refuse,
    'snapshots/list': refuse,
    'snapshots/verify': refuse,
    'snapshots/keys': refuse,
    'snapshots/restore': refuse,
    'wal/open': refuse,
    'wal/records': refuse,
  }
}

describe('router.dispatch', () => {
  it('refuses an unknown channel', async () => {
    const info = vi.fn()
    const answer = await dispatch(handlers(info), 'app/nuke', [])
    expect(answer).toEqual({
      ok: false,
      error: {
        name: 'ValidationError',
        code: 'UNKNOWN_CHANNEL',
        message: 'unknown channel "app/nuke"',
      },
    })
    expect(info).not.toHaveBeenCalled()
  })

  it('refuses prototype keys posing as channels', async () => {
    const answer = await dispatch(handlers(vi.fn()), 'constructor', [])
    expect(answer.ok).toBe(false)
  })

  it('carries a typed error as name, code and message', async () => {
    class DiskFullError extends RaftdeskError {}
    const answer = await dispatch(
      handlers(() => {
        throw new DiskFullError('NOSPC', 'disk full while writing wal')
      }),
      'app/info',
      [],
    )
    expect(answer).toEqual({
      ok: false,
      error: { name: 'DiskFullError', code: 'NOSPC', message: 'disk full while writing wal' },
    })
  })

  it('turns an unexpected throw into an INTERNAL error without its stack', async () => {
    const answer = await dispatch(
      handlers(() => {
        throw new TypeError('boom')
      }),
      'app/info',
      [],
    )
    expect(answer).toEqual({
      ok: false,
      error: { name: 'TypeError', code: 'INTERNAL', message: 'boom' },
    })
  })
})
