/**
 * The `cluster/metrics` topic: every member's Prometheus /metrics (etcd serves it on its client
 * URL), read on an interval with the connection's TLS files, reduced to what the Cluster view
 * charts. A member that serves no metrics (raftdesk's nodes speak gRPC only on that port) or
 * does not answer is reported with the reason, and the others go on.
 */
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { MemberMetrics, MetricHistogram, MetricsSample, TlsFiles } from '../../contract'
import type { Connections } from './connections'
import type { TopicHandlers } from './topics'

/** How long one member may take to serve its metrics. */
const SCRAPE_TIMEOUT_MS = 2_000
/** etcd's metrics are about 100 KB; anything past this is not them. */
const SCRAPE_MAX_BYTES = 8 * 1024 * 1024

/** GET /metrics from one member: the text, or a sentence saying why not. */
export function scrapeMetrics(endpoint: string, tls?: TlsFiles): Promise<string> {
  const url = `${tls ? 'https' : 'http'}://${endpoint}/metrics`
  return new Promise((resolve, reject) => {
    const options = {
      timeout: SCRAPE_TIMEOUT_MS,
      ...(tls
        ? {
            ...(tls.ca ? { ca: tls.ca } : {}),
            ...(tls.cert ? { cert: tls.cert } : {}),
            ...(tls.key ? { key: tls.key } : {}),
          }
        : {}),
    }
    const req = (tls ? httpsRequest : httpRequest)(url, options, (res) => {
      if (res.statusCode !== 200) {
        res.resume()
        reject(new Error(`${url} answered HTTP ${res.statusCode}`))
        return
      }
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (c: Buffer) => {
        size += c.length
        if (size > SCRAPE_MAX_BYTES) req.destroy(new Error(`${url} sent more than 8 MiB`))
        else chunks.push(c)
      })
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`${url} did not answer in 2 s`)))
    req.on('error', (err) =>
      reject(
        new Error(
          /HPE_|parse error|socket hang up|ECONNRESET/i.test(err.message)
            ? `no Prometheus metrics at ${url} (it does not speak HTTP/1.1 there)`
            : `cannot read ${url}: ${err.message}`,
        ),
      ),
    )
    req.end()
  })
}

/** One sample line of the Prometheus text format: its name, labels and value. */
interface PromSample {
  name: string
  labels: Record<string, string>
  value: number
}

const SAMPLE_RE = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/
const LABEL_RE = /([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"/g

/**
 * The samples of the families whose names start with one of `prefixes`. Written here rather
 * than taken from npm: the parser there (parse-prometheus-text-format 1.1) keeps one series per
 * histogram and drops the others, which loses every peer but one of etcd's round-trip times.
 */
export function parsePromText(text: string, prefixes: string[]): PromSample[] {
  const out: PromSample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    if (!prefixes.some((p) => line.startsWith(p))) continue
    const m = SAMPLE_RE.exec(line)
    if (!m) continue
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(LABEL_RE)) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_all, c: string) => (c === 'n' ? '\n' : c))
    }
    const raw = m[3]!
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw)
    out.push({ name: m[1]!, labels, value })
  }
  return out
}

function scalar(samples: PromSample[], name: string): number | null {
  const mine = samples.filter((s) => s.name === name)
  return mine.length === 0 ? null : mine.reduce((sum, s) => sum + s.value, 0)
}

/** A histogram with every series (label set) summed: cumulative buckets add up. */
function histogram(samples: PromSample[], name: string): MetricHistogram | null {
  const buckets = new Map<number, number>()
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || s.labels['le'] === undefined) continue
    const le = s.labels['le'] === '+Inf' ? Infinity : Number(s.labels['le'])
    buckets.set(le, (buckets.get(le) ?? 0) + s.value)
  }
  if (buckets.size === 0) return null
  return {
    buckets: [...buckets].sort((a, b) => a[0] - b[0]),
    count: scalar(samples, `${name}_count`) ?? buckets.get(Infinity) ?? 0,
    sum: scalar(samples, `${name}_sum`) ?? 0,
  }
}

/** The metrics the Cluster view charts, read from one /metrics text. */
export function readEtcdMetrics(text: string): Omit<MemberMetrics, 'name' | 'endpoint' | 'error'> {
  const families = parsePromText(text, ['etcd_server_', 'etcd_network_peer_', 'etcd_disk_wal_'])
  return {
    hasLeader: scalar(families, 'etcd_server_has_leader'),
    leaderChanges: scalar(families, 'etcd_server_leader_changes_seen_total'),
    proposalsCommitted: scalar(families, 'etcd_server_proposals_committed_total'),
    proposalsApplied: scalar(families, 'etcd_server_proposals_applied_total'),
    proposalsPending: scalar(families, 'etcd_server_proposals_pending'),
    proposalsFailed: scalar(families, 'etcd_server_proposals_failed_total'),
    peerRtt: histogram(families, 'etcd_network_peer_round_trip_time_seconds'),
    walFsync: histogram(families, 'etcd_disk_wal_fsync_duration_seconds'),
  }
}

const NONE = {
  hasLeader: null,
  leaderChanges: null,
  proposalsCommitted: null,
  proposalsApplied: null,
  proposalsPending: null,
  proposalsFailed: null,
  peerRtt: null,
  walFsync: null,
}

/** One reading of every member, the member list asked again each time (members come and go). */
async function sample(conns: Connections, conn: string): Promise<MetricsSample> {
  const c = await conns.use(conn)
  const list = await c.client.cluster.memberList({})
  const members = await Promise.all(
    list.members.map(async (m): Promise<MemberMetrics> => {
      const endpoint = (m.clientURLs[0] ?? '').replace(/^https?:\/\//, '')
      try {
        return {
          name: m.name,
          endpoint,
          ...readEtcdMetrics(await scrapeMetrics(endpoint, c.spec.tls)),
        }
      } catch (err) {
        return { name: m.name, endpoint, ...NONE, error: (err as Error).message }
      }
    }),
  )
  return { atMs: Date.now(), members: members.sort((a, b) => a.name.localeCompare(b.name)) }
}

export function createMetricsTopics(conns: Connections): Pick<TopicHandlers, 'cluster/metrics'> {
  return {
    'cluster/metrics': async ({ conn, intervalMs }, sink) => {
      // The first reading, or the connection's error, before the interval starts.
      sink.emit(await sample(conns, conn))
      let stopped = false
      let timer: NodeJS.Timeout | null = null
      const next = () => {
        timer = setTimeout(async () => {
          try {
            const s = await sample(conns, conn)
            if (!stopped) sink.emit(s)
          } catch {
            // The member list failed this time (a leaderless moment): try again next tick.
          }
          if (!stopped) next()
        }, intervalMs ?? 2_000)
      }
      next()
      return () => {
        stopped = true
        if (timer) clearTimeout(timer)
      }
    },
  }
}
