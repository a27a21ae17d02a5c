/**
 * The cluster's alarms, etcd's alarm store: which member raised which alarm. They are changed
 * only by replicated 'alarm' writes, so every member holds the same set, and they live in the
 * store (and its snapshots), so they survive restarts until someone disarms them.
 *
 * NOSPACE (a member's store passed --quota-backend-bytes) caps the cluster: while any member's
 * NOSPACE is raised, the writes that can grow the store (puts, txns with a put, lease grants) are
 * refused at apply with "database space exceeded"; reads, deletes, compaction and
 * defragmentation go on, so an operator can make room and disarm. CORRUPT refuses every write.
 *
 * Persisted layout (space 'b' of layout.ts): 'b' + u64 member id (big-endian) + u8 type (1
 * NOSPACE, 2 CORRUPT) -> empty value. Keys sort by member, then type.
 */
import { CorruptionError } from './errors'
import { readUint64, writeUint64 } from './revision'

export const SPACE_ALARM = 0x62 // 'b'

export type AlarmKind = 'nospace' | 'corrupt'

export interface Alarm {
  memberId: number
  alarm: AlarmKind
}

export interface AlarmOp {
  action: 'activate' | 'deactivate'
  memberId: number
  alarm: AlarmKind
}

export type AlarmRecordWrite =
  { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array }

const KIND_CODES: Record<AlarmKind, number> = { nospace: 1, corrupt: 2 }
const KINDS: Record<number, AlarmKind> = { 1: 'nospace', 2: 'corrupt' }

function alarmKey(a: Alarm): Uint8Array {
  const key = new Uint8Array(10)
  key[0] = SPACE_ALARM
  writeUint64(key, 1, a.memberId)
  key[9] = KIND_CODES[a.alarm]
  return key
}

const id = (a: Alarm) => `${a.memberId}/${a.alarm}`

export class AlarmSet {
  private readonly alarms = new Map<string, Alarm>()

  /** Every alarm, or those of one kind, by member id. */
  list(kind?: AlarmKind): Alarm[] {
    return [...this.alarms.values()]
      .filter((a) => kind === undefined || a.alarm === kind)
      .sort((a, b) => a.memberId - b.memberId || KIND_CODES[a.alarm] - KIND_CODES[b.alarm])
  }

  has(kind: AlarmKind): boolean {
    for (const a of this.alarms.values()) if (a.alarm === kind) return true
    return false
  }

  /**
   * Applies an alarm change; returns what it changed (etcd's answer: the alarm raised, or the one
   * disarmed; nothing when there was nothing to do) and the records to write.
   */
  apply(op: AlarmOp): { changed: Alarm[]; writes: AlarmRecordWrite[] } {
    const alarm = { memberId: op.memberId, alarm: op.alarm }
    if (op.action === 'activate') {
      if (this.alarms.has(id(alarm))) return { changed: [alarm], writes: [] }
      this.alarms.set(id(alarm), alarm)
      return {
        changed: [alarm],
        writes: [{ type: 'put', key: alarmKey(alarm), value: new Uint8Array(0) }],
      }
    }
    if (!this.alarms.delete(id(alarm))) return { changed: [], writes: [] }
    return { changed: [alarm], writes: [{ type: 'del', key: alarmKey(alarm) }] }
  }

  records(): Array<{ key: Uint8Array; value: Uint8Array }> {
    return this.list().map((a) => ({ key: alarmKey(a), value: new Uint8Array(0) }))
  }

  load(records: Iterable<{ key: Uint8Array; value: Uint8Array }>): void {
    this.alarms.clear()
    for (const { key } of records) {
      const alarm = KINDS[key[9]!]
      if (key.length !== 10 || key[0] !== SPACE_ALARM || alarm === undefined) {
        throw new CorruptionError('alarms: a record does not decode')
      }
      const a = { memberId: readUint64(key, 1), alarm }
      this.alarms.set(id(a), a)
    }
  }
}
