/**
 * Argument schemas for every channel of the API contract. Every argument that crosses IPC or the
 * web-mode WebSocket is parsed against these before a handler sees it.
 *
 * The `satisfies` clause makes the compiler refuse a contract channel without a schema.
 */
import { z } from 'zod'
import type { Channel } from '../../contract'

export const argSchemas = {
  'app/info': z.tuple([]),
} satisfies Record<Channel, z.ZodType<unknown[]>>
