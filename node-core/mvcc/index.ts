/**
 * The key-value state machine of a node (etcd's MVCC): what other modules use.
 *
 *   const store = await openStore(`${dataDir}/db`)
 *   const results = await store.applyBatch(committed.map((e) => ({ index: e.index, op })))
 *   store.range({ key })                       // reads of the applied state
 *   store.watch({ key, startRevision })        // async iterator of WatchResponse
 *   store.lessor.promote(nowMs) / expired(nowMs) / renew(id, nowMs) / timeToLive(...)
 *   store.snapshotImage() / restoreFromImage(stream, index)
 *
 * store.ts documents the contract with the Ready loop; the modules below document their formats.
 */
export * from './types'
export * from './errors'
export { openStore, MvccStore, DEFAULT_STORE_LIMITS } from './store'
export type { ApplyItem, StoreLimits, StoreOptions } from './store'
export { Lessor, DEFAULT_LESSOR_OPTIONS } from './lessor'
export type { LeaseTimeToLive, LessorOptions } from './lessor'
export { Watcher, DEFAULT_WATCH_LIMITS } from './watch'
export type { WatchLimits, WatchOptions, WatchRequest, WatchResponse } from './watch'
export { decodeImage, encodeImage, IMAGE_FORMAT_VERSION } from './image'
export type { ImageEntry, ImageHeader } from './image'
export { keyRange, prefixRangeEnd, compareBytes } from './keys'
export {
  checkDeleteRangeRequest,
  checkPutRequest,
  checkRangeRequest,
  checkTxnRequest,
  checkWriteOp,
  DEFAULT_REQUEST_LIMITS,
} from './validate'
export type { RequestLimits } from './validate'
