// The manual clock that server tests count deadlines in: timers fire only when it is advanced,
// in the order of their times, each seeing its own time; a cancelled timer never fires.
import { describe, expect, it } from 'vitest'
import { ManualClock, systemClock } from '../../../node-core/kernel/clock'
import { WaitRegistry } from '../../../node-core/server/wait'

describe('ManualClock', () => {
  it('fires due timers in time order, each at its own time, and none early', () => {
    const clock = new ManualClock(100)
    const fired: string[] = []
    clock.after(30, () => fired.push(`b@${clock.now()}`))
    clock.after(10, () => {
      fired.push(`a@${clock.now()}`)
      // A timer set while advancing that falls due within the same advance fires in it.
      clock.after(5, () => fired.push(`a2@${clock.now()}`))
    })
    clock.after(30, () => fired.push(`c@${clock.now()}`))
    clock.after(50, () => fired.push(`late@${clock.now()}`))
    clock.advance(29)
    expect(fired).toEqual(['a@110', 'a2@115'])
    expect(clock.now()).toBe(129)
    clock.advance(1)
    expect(fired).toEqual(['a@110', 'a2@115', 'b@130', 'c@130'])
    expect(clock.pending).toBe(1)
  })

  it('never fires a cancelled timer', () => {
    const clock = new ManualClock()
    let fired = false
    const cancel = clock.after(10, () => (fired = true))
    cancel()
    clock.advance(100)
    expect(fired).toBe(false)
    expect(clock.pending).toBe(0)
  })

  it('lets a wait registry time requests out in virtual time only', async () => {
    const clock = new ManualClock()
    const registry = new WaitRegistry<string>(10, 'request', clock)
    const waiting = registry.register(1, 7_000)
    const answered = registry.register(2, 7_000)
    registry.resolve(2, 'ok')
    await expect(answered).resolves.toBe('ok')
    clock.advance(6_999)
    expect(registry.has(1)).toBe(true)
    clock.advance(1)
    expect(registry.has(1)).toBe(false)
    await expect(waiting).rejects.toThrow('request timed out after 7000 ms')
    expect(clock.pending).toBe(0)
  })

  it('runs the system clock on real timers', async () => {
    let fired = false
    const cancel = systemClock.after(1, () => (fired = true))
    await new Promise((r) => setTimeout(r, 20))
    expect(fired).toBe(true)
    cancel()
  })
})
