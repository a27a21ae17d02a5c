// Reading etcd's Prometheus metrics: the families the Cluster view charts, histograms of every
// peer summed bucket by bucket, a family a member lacks as null; and the scrape over HTTP, with
// a server that answers something else named in the error.
import { createServer, type Server } from 'node:http'
import { createServer as createH2Server, type Http2Server } from 'node:http2'
import type { AddressInfo } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { parsePromText, readEtcdMetrics, scrapeMetrics } from '../../../node-core/services/metrics'

// The shape etcd 3.4 serves (values made up), with two peers' round-trip histograms.
const ETCD_TEXT = `# HELP etcd_server_has_leader Whether or not a leader exists. 1 is existence, 0 is not.
# TYPE etcd_server_has_leader gauge
etcd_server_has_leader 1
# TYPE etcd_server_leader_changes_seen_total counter
etcd_server_leader_changes_seen_total 3
# TYPE etcd_server_proposals_applied_total gauge
etcd_server_proposals_applied_total 1201
# TYPE etcd_server_proposals_committed_total gauge
etcd_server_proposals_committed_total 1202
# TYPE etcd_server_proposals_failed_total counter
etcd_server_proposals_failed_total 2
# TYPE etcd_server_proposals_pending gauge
etcd_server_proposals_pending 1
# TYPE etcd_network_peer_round_trip_time_seconds histogram
etcd_network_peer_round_trip_time_seconds_bucket{To="a1",le="0.0001"} 1
etcd_network_peer_round_trip_time_seconds_bucket{To="a1",le="0.0002"} 5
etcd_network_peer_round_trip_time_seconds_bucket{To="a1",le="+Inf"} 6
etcd_network_peer_round_trip_time_seconds_sum{To="a1"} 0.0009
etcd_network_peer_round_trip_time_seconds_count{To="a1"} 6
etcd_network_peer_round_trip_time_seconds_bucket{To="b2",le="0.0001"} 2
etcd_network_peer_round_trip_time_seconds_bucket{To="b2",le="0.0002"} 3
etcd_network_peer_round_trip_time_seconds_bucket{To="b2",le="+Inf"} 4
etcd_network_peer_round_trip_time_seconds_sum{To="b2"} 0.0006
etcd_network_peer_round_trip_time_seconds_count{To="b2"} 4
# TYPE go_goroutines gauge
go_goroutines 97
`

const servers: Array<Server | Http2Server> = []
afterAll(() => servers.forEach((s) => s.close()))
async function listen<T extends Server | Http2Server>(server: T): Promise<string> {
  servers.push(server)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return `127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe('etcd metrics', () => {
  it('reads the families the view charts, peers summed, absent ones null', () => {
    const m = readEtcdMetrics(ETCD_TEXT)
    expect(m).toMatchObject({
      hasLeader: 1,
      leaderChanges: 3,
      proposalsApplied: 1201,
      proposalsCommitted: 1202,
      proposalsFailed: 2,
      proposalsPending: 1,
      walFsync: null,
    })
    expect(m.peerRtt).toEqual({
      buckets: [
        [0.0001, 3],
        [0.0002, 8],
        [Infinity, 10],
      ],
      count: 10,
      sum: expect.closeTo(0.0015, 6),
    })
  })

  it('reads escaped label values and timestamps, and only the families asked for', () => {
    const text = 'a_x{l="q\\"t\\n",m="n"} 5 1395066363000\n# HELP a_x x\nb_y 1\na_z +Inf\n'
    expect(parsePromText(text, ['a_'])).toEqual([
      { name: 'a_x', labels: { l: 'q"t\n', m: 'n' }, value: 5 },
      { name: 'a_z', labels: {}, value: Infinity },
    ])
  })

  it('scrapes /metrics over HTTP and names what answers otherwise', async () => {
    const ok = await listen(
      createServer((req, res) => {
        if (req.url === '/metrics') res.end(ETCD_TEXT)
        else res.writeHead(404).end()
      }),
    )
    expect(readEtcdMetrics(await scrapeMetrics(ok)).proposalsCommitted).toBe(1202)
    const missing = await listen(createServer((_req, res) => res.writeHead(404).end()))
    await expect(scrapeMetrics(missing)).rejects.toThrow(/answered HTTP 404/)
    // A gRPC-only port (HTTP/2 without HTTP/1.1), as raftdesk's nodes have.
    const h2 = await listen(createH2Server())
    await expect(scrapeMetrics(h2)).rejects.toThrow(/no Prometheus metrics at http:\/\/.*\/metrics/)
  })
})
