/**
 * Regular expressions from the window run in a worker thread with a time limit: a pattern that
 * backtracks catastrophically (`(a+)+$` on a long run of a's) would otherwise hold the process
 * serving the window (Electron's main, or `raftdesk serve`) for minutes. Each page of texts is
 * matched in the worker; a page that takes longer than the limit ends the worker and the search,
 * with a sentence that says why.
 */
import { Worker } from 'node:worker_threads'
import { ValidationError } from '../errors'

/** How long one page of texts may take to match. */
export const REGEX_PAGE_MS_MAX = 2_000

// Plain JavaScript, evaluated as the worker's source: no file to ship beside the bundle.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const re = new RegExp(workerData.source, 'u')
parentPort.on('message', (texts) => {
  parentPort.postMessage(texts.map((t) => {
    const m = re.exec(t)
    return m ? [m.index, m.index + m[0].length] : null
  }))
})
`

export class RegexMatcher {
  private readonly worker: Worker

  constructor(
    private readonly source: string,
    private readonly pageMsMax = REGEX_PAGE_MS_MAX,
  ) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { source } })
    this.worker.unref()
  }

  /** Where the pattern matches each text: [start, end) or null. */
  match(texts: string[]): Promise<([number, number] | null)[]> {
    return new Promise((resolve, reject) => {
      // Every way out removes every listener this page added: a search asks once per page.
      const settle = () => {
        clearTimeout(timer)
        this.worker.off('message', onMessage)
        this.worker.off('error', onError)
      }
      const onMessage = (result: ([number, number] | null)[]) => {
        settle()
        resolve(result)
      }
      const onError = (err: Error) => {
        settle()
        reject(err)
      }
      const timer = setTimeout(() => {
        settle()
        void this.worker.terminate()
        reject(
          new ValidationError(
            'REGEX_TOO_SLOW',
            `the regular expression ${JSON.stringify(this.source)} took over ${this.pageMsMax / 1000} s ` +
              `on a page of ${texts.length} and was stopped: simplify it (nested repeats like (a+)+ backtrack without end)`,
          ),
        )
      }, this.pageMsMax)
      this.worker.on('message', onMessage)
      this.worker.on('error', onError)
      this.worker.postMessage(texts)
    })
  }

  close(): void {
    void this.worker.terminate()
  }
}
