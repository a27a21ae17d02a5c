/**
 * Compact one-line descriptions of raft data, for traces, logs and the interaction tests:
 *
 *   1->2 MsgApp Term:1 Log:1/3 Commit:3 Entries:[1/4 EntryNormal "foo"]
 *   2->1 MsgAppResp Term:1 Log:1/5 Rejected (Hint: 3)
 *   1->2 MsgVote Term:2 Log:1/4 Context:"transfer"
 *   1->2 MsgSnap Term:1 Snapshot: Index:5 Term:1 ConfState:Voters:[1 2 3] Learners:[]
 *
 * Byte payloads print as a quoted string when they are printable ASCII, otherwise as hex (long
 * ones are cut after 32 bytes with their length). These strings are for people: nothing parses
 * them back.
 */
import { decodeConfChange } from './confchange'
import type { ConfState, Entry, Message, Ready, Snapshot } from './types'

const SHOWN_BYTES_MAX = 32

export function describeBytes(data: Uint8Array): string {
  let printable = true
  for (let i = 0; i < data.byteLength; i++) {
    const c = data[i]!
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) {
      printable = false
      break
    }
  }
  const shown = data.byteLength > SHOWN_BYTES_MAX ? data.subarray(0, SHOWN_BYTES_MAX) : data
  const suffix = data.byteLength > SHOWN_BYTES_MAX ? `...(${data.byteLength} bytes)` : ''
  if (printable) return `"${String.fromCharCode(...shown)}"${suffix}`
  let hex = ''
  for (const b of shown) hex += b.toString(16).padStart(2, '0')
  return `0x${hex}${suffix}`
}

export function describeConfState(cs: ConfState): string {
  return `Voters:[${cs.voters.join(' ')}] Learners:[${cs.learners.join(' ')}]`
}

export function describeEntry(e: Entry): string {
  if (e.type === 'confChange') {
    let body: string
    try {
      const cc = decodeConfChange(e.data)
      body = `${cc.type} ${cc.nodeId}`
      if (cc.context.byteLength > 0) body += ` ${describeBytes(cc.context)}`
    } catch {
      body = `<malformed ${describeBytes(e.data)}>`
    }
    return `${e.term}/${e.index} EntryConfChange ${body}`
  }
  return `${e.term}/${e.index} EntryNormal ${describeBytes(e.data)}`
}

export function describeSnapshot(s: Snapshot): string {
  return `Index:${s.metadata.index} Term:${s.metadata.term} ConfState:${describeConfState(s.metadata.confState)}`
}

export function describeMessage(m: Message): string {
  let s = `${m.from}->${m.to} ${m.type} Term:${m.term}`
  if (
    m.logTerm !== 0 ||
    m.index !== 0 ||
    m.type === 'MsgApp' ||
    m.type === 'MsgAppResp' ||
    m.type === 'MsgVote' ||
    m.type === 'MsgPreVote'
  ) {
    s += ` Log:${m.logTerm}/${m.index}`
  }
  if (m.commit !== 0 || m.type === 'MsgApp' || m.type === 'MsgHeartbeat') s += ` Commit:${m.commit}`
  if (m.reject) {
    s += ' Rejected'
    if (m.type === 'MsgAppResp') s += ` (Hint: ${m.rejectHint})`
  }
  if (m.context !== undefined && m.context.byteLength > 0)
    s += ` Context:${describeBytes(m.context)}`
  if (m.entries.length > 0) s += ` Entries:[${m.entries.map(describeEntry).join(', ')}]`
  if (m.snapshot !== undefined) s += ` Snapshot: ${describeSnapshot(m.snapshot)}`
  return s
}

/** A multi-line description of a Ready, without a trailing newline. */
export function describeReady(rd: Ready): string {
  const lines: string[] = [`Ready MustSync=${rd.mustSync}:`]
  if (rd.softState !== undefined) lines.push(`Lead:${rd.softState.lead} State:${rd.softState.role}`)
  if (rd.hardState !== undefined) {
    const hs = rd.hardState
    lines.push(`HardState Term:${hs.term} Vote:${hs.vote} Commit:${hs.commit}`)
  }
  if (rd.snapshot !== undefined) lines.push(`Snapshot ${describeSnapshot(rd.snapshot)}`)
  if (rd.entries.length > 0) {
    lines.push('Entries:')
    for (const e of rd.entries) lines.push(describeEntry(e))
  }
  if (rd.committedEntries.length > 0) {
    lines.push('CommittedEntries:')
    for (const e of rd.committedEntries) lines.push(describeEntry(e))
  }
  if (rd.messages.length > 0) {
    lines.push('Messages:')
    for (const m of rd.messages) lines.push(describeMessage(m))
  }
  if (rd.readStates.length > 0) {
    lines.push('ReadStates:')
    for (const rs of rd.readStates)
      lines.push(`Index:${rs.index} RequestCtx:${describeBytes(rs.requestCtx)}`)
  }
  return lines.join('\n')
}
