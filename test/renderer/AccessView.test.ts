// The Access view over a fake contract: root sees users, roles and their permissions named by
// shape (prefix, key, range); a user who is not root sees who it is and what it may do instead;
// granting a permission sends the range end its shape means.
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia } from 'pinia'
import { describe, expect, it } from 'vitest'
import type { AuthOverview, RaftdeskBridge, WhoAmI } from '../../contract'
import { createApiClient } from '../../renderer/src/api/client'
import { apiKey } from '../../renderer/src/api/inject'
import AccessView from '../../renderer/src/features/access/AccessView.vue'
import { createAppI18n } from '../../renderer/src/i18n'
import { utf8 } from '../../renderer/src/lib/bytes'

const dec = (b: Uint8Array) => new TextDecoder().decode(b)
/** A permission line's parts (type, scope, key, range end), one space apart. */
const words = (w: { findAll(s: string): { text(): string }[] }) =>
  w
    .findAll('.ptype, .scope, code')
    .map((e) => e.text())
    .join(' ')

function mountWith(answers: { whoami: WhoAmI; overview?: AuthOverview }) {
  const calls: [string, Record<string, unknown>][] = []
  const bridge: RaftdeskBridge = {
    invoke: (async (channel: string, args: Record<string, unknown>) => {
      calls.push([channel, args])
      if (channel === 'auth/whoami') return { ok: true, value: answers.whoami }
      if (channel === 'auth/overview') {
        return answers.overview
          ? { ok: true, value: answers.overview }
          : {
              ok: false,
              error: {
                name: 'RaftdeskError',
                code: 'PERMISSION_DENIED',
                message: 'etcdserver: permission denied',
              },
            }
      }
      return { ok: true, value: null }
    }) as RaftdeskBridge['invoke'],
    subscribe: () => () => {},
  }
  const wrapper = mount(AccessView, {
    global: {
      plugins: [createPinia(), createAppI18n('en')],
      provide: { [apiKey as symbol]: createApiClient(bridge) },
    },
  })
  return { wrapper, calls }
}

describe('AccessView', () => {
  it('shows root the users with their roles and the roles with their permissions', async () => {
    const { wrapper, calls } = mountWith({
      whoami: { user: 'root', enabled: true, root: true, roles: ['root'], permissions: [] },
      overview: {
        enabled: true,
        users: [
          { name: 'alice', roles: ['reader'] },
          { name: 'root', roles: ['root'] },
        ],
        roles: [
          {
            name: 'reader',
            permissions: [
              { type: 'read', key: utf8('app/'), rangeEnd: utf8('app0') },
              { type: 'readwrite', key: utf8('lock'), rangeEnd: new Uint8Array() },
              { type: 'write', key: utf8('a'), rangeEnd: utf8('m') },
            ],
          },
        ],
      },
    })
    await flushPromises()
    expect(wrapper.get('[data-test=auth-status]').text()).toBe('on')
    expect(wrapper.get('[data-test=auth-me]').text()).toBe('You are root.')
    const users = wrapper.findAll('[data-test=user-row]').map((r) => r.text())
    expect(users[0]).toMatch(/^alice\s*reader/)
    const perms = wrapper.findAll('[data-test=permission]').map(words)
    expect(perms).toEqual(['read prefix app/', 'read+write key lock', 'write range a m'])

    // Granting "read, prefix cfg/" sends cfg/'s prefix end.
    const role = wrapper.findAll('[data-test=role-row]')[0]!
    await role.get('[data-test=perm-key]').setValue('cfg/')
    await role.get('form').trigger('submit')
    await flushPromises()
    const grant = calls.find(([c]) => c === 'auth/grantPermission')![1] as {
      role: string
      permission: { type: string; key: Uint8Array; rangeEnd: Uint8Array }
    }
    expect(grant.role).toBe('reader')
    expect([
      grant.permission.type,
      dec(grant.permission.key),
      dec(grant.permission.rangeEnd),
    ]).toEqual(['read', 'cfg/', 'cfg0'])
  })

  it('shows a user who is not root what it may do, not a bare refusal', async () => {
    const { wrapper } = mountWith({
      whoami: {
        user: 'alice',
        enabled: true,
        root: false,
        roles: ['reader'],
        permissions: [{ type: 'read', key: utf8('app/'), rangeEnd: utf8('app0') }],
      },
    })
    await flushPromises()
    const denied = wrapper.get('[data-test=access-denied]').text().replace(/\s+/g, ' ')
    expect(denied).toContain('alice may not manage users and roles')
    expect(denied).toContain('reader')
    expect(words(wrapper.get('[data-test=my-permission]'))).toBe('read prefix app/')
    expect(wrapper.find('[data-test=users-card]').exists()).toBe(false)
  })
})
