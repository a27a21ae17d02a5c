/**
 * Invite links: `raftdesk://join?peer=HOST:PORT&token=TOKEN&cluster=HEXID`, as `join/invite`
 * makes them and as the operating system hands them to the app. What a person pastes is read
 * leniently (spaces around, a link inside a sentence); what comes out is checked.
 */
export interface JoinLink {
  peer: string
  token: string
  /** The cluster id in hex ('' when the link carries none). */
  clusterId: string
}

/** The link inside `text`, read; null when there is none or it lacks peer or token. */
export function parseJoinLink(text: string): JoinLink | null {
  const found = /raftdesk:\/\/join\?\S+/i.exec(text)
  if (!found) return null
  let params: URLSearchParams
  try {
    params = new URL(found[0]).searchParams
  } catch {
    return null
  }
  const peer = params.get('peer')?.trim() ?? ''
  const token = params.get('token') ?? ''
  const clusterId = (params.get('cluster') ?? '').toLowerCase()
  if (!/^[^\s:/]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(peer) || token === '') return null
  if (clusterId !== '' && !/^[0-9a-f]{1,16}$/.test(clusterId)) return null
  return { peer, token, clusterId }
}
