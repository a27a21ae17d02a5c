/**
 * A strict structural check of protobuf wire bytes against a message schema, run on every
 * request before it is decoded.
 *
 * Why: protobufjs decodes leniently. It reads a known field with whatever wire type arrives,
 * clamps a string whose length runs past the end of the buffer, and recurses without a depth
 * bound. Go's protobuf (etcd) refuses such input, and raftdesk must not act on a request it
 * misread, so every request passes this check first; what fails it is answered
 * INVALID_ARGUMENT.
 *
 * The wire format (protobuf encoding spec): a message is a sequence of (tag, value); tag is a
 * varint (field_number << 3 | wire_type). Wire types: 0 varint (at most 10 bytes), 1 fixed 8
 * bytes, 2 length-delimited (varint length, then that many bytes), 5 fixed 4 bytes; 3 and 4 are
 * the deprecated groups, which proto3 schemas never use and which are refused here.
 *
 * Checked: tags (field number 1..2^29-1, known wire type), varint lengths, that every length
 * stays inside its buffer, that known fields use the wire type of their declared type (a
 * repeated scalar may also arrive packed, as wire type 2), that string fields are valid UTF-8
 * (as proto3 requires), and, recursively, nested messages, to at most depthMax levels.
 * Unknown fields are skipped, as proto3 requires.
 */
import { ByteReader } from '../kernel/bytes'
import type { PackageDefinition } from '@grpc/proto-loader'

interface FieldDescriptor {
  name: string
  number: number
  label: string
  type: string
  typeName: string
}

interface MessageDescriptor {
  name: string
  field: FieldDescriptor[]
}

interface FieldRule {
  name: string
  wireType: number
  repeated: boolean
  isString: boolean
  /** For message fields: the full name of the message type. */
  message: string | undefined
}

/** Message full name -> field number -> rule. */
export type Schema = Map<string, Map<number, FieldRule>>

const WIRE_VARINT = 0
const WIRE_FIXED64 = 1
const WIRE_LENGTH = 2
const WIRE_FIXED32 = 5

function wireTypeOf(type: string): number {
  switch (type) {
    case 'TYPE_DOUBLE':
    case 'TYPE_FIXED64':
    case 'TYPE_SFIXED64':
      return WIRE_FIXED64
    case 'TYPE_FLOAT':
    case 'TYPE_FIXED32':
    case 'TYPE_SFIXED32':
      return WIRE_FIXED32
    case 'TYPE_STRING':
    case 'TYPE_BYTES':
    case 'TYPE_MESSAGE':
      return WIRE_LENGTH
    default:
      return WIRE_VARINT // ints, bools, enums
  }
}

/** Resolves a type name the way protobuf scopes do: innermost scope first. */
function resolve(name: string, scope: string, known: Set<string>): string {
  if (name.startsWith('.')) return name.slice(1)
  const parts = scope.split('.')
  for (let i = parts.length; i >= 0; i--) {
    const candidate = [...parts.slice(0, i), name].join('.')
    if (known.has(candidate)) return candidate
  }
  throw new Error(`cannot resolve message type ${name} from ${scope}`)
}

/** Builds the field rules of every message in a proto-loader package definition. */
export function schemaOf(pkg: PackageDefinition): Schema {
  const messages = new Map<string, MessageDescriptor>()
  for (const [fullName, def] of Object.entries(pkg)) {
    if ('format' in def && def.format === 'Protocol Buffer 3 DescriptorProto') {
      messages.set(fullName, def.type as MessageDescriptor)
    }
  }
  const known = new Set(messages.keys())
  const schema: Schema = new Map()
  for (const [fullName, message] of messages) {
    const rules = new Map<number, FieldRule>()
    for (const f of message.field) {
      rules.set(f.number, {
        name: f.name,
        wireType: wireTypeOf(f.type),
        repeated: f.label === 'LABEL_REPEATED',
        isString: f.type === 'TYPE_STRING',
        message: f.type === 'TYPE_MESSAGE' ? resolve(f.typeName, fullName, known) : undefined,
      })
    }
    schema.set(fullName, rules)
  }
  return schema
}

export class WireError extends Error {}

const utf8 = new TextDecoder('utf-8', { fatal: true })

const wireError = (message: string) => new WireError(message)

/** Kernel's reader over buf[start, end), failing with WireError; varints are protobuf's. */
class Cursor extends ByteReader {
  constructor(buf: Uint8Array, start: number, end: number) {
    super(buf, wireError, start, end)
  }

  varint(what: string): number {
    return this.protoVarint(what)
  }
}

/** Throws WireError unless `buf` is a well-formed encoding of message `typeName`. */
export function checkWire(
  schema: Schema,
  typeName: string,
  buf: Uint8Array,
  depthMax: number,
): void {
  checkMessage(schema, typeName, new Cursor(buf, 0, buf.length), 0, depthMax)
}

function checkMessage(
  schema: Schema,
  typeName: string,
  cur: Cursor,
  depth: number,
  depthMax: number,
): void {
  if (depth > depthMax) throw new WireError(`messages nested deeper than ${depthMax} levels`)
  const rules = schema.get(typeName)
  if (!rules) throw new Error(`no schema for message ${typeName}`)
  while (cur.pos < cur.end) {
    const tagAt = cur.pos
    const tag = cur.varint('tag')
    const fieldNumber = Math.floor(tag / 8)
    const wireType = tag % 8
    if (fieldNumber < 1 || fieldNumber > 2 ** 29 - 1) {
      throw new WireError(`invalid field number ${fieldNumber} at offset ${tagAt}`)
    }
    const rule = rules.get(fieldNumber)
    const packed = rule !== undefined && rule.repeated && wireType === WIRE_LENGTH
    if (rule && wireType !== rule.wireType && !(packed && rule.wireType !== WIRE_LENGTH)) {
      throw new WireError(
        `${typeName}.${rule.name} (field ${fieldNumber}) has wire type ${wireType}, ` +
          `expected ${rule.wireType}, at offset ${tagAt}`,
      )
    }
    switch (wireType) {
      case WIRE_VARINT:
        cur.varint(`field ${fieldNumber}`)
        break
      case WIRE_FIXED64:
        cur.skip(8, `field ${fieldNumber}`)
        break
      case WIRE_FIXED32:
        cur.skip(4, `field ${fieldNumber}`)
        break
      case WIRE_LENGTH: {
        const length = cur.varint(`length of field ${fieldNumber}`)
        const start = cur.pos
        cur.skip(length, `field ${fieldNumber}`)
        if (rule?.message !== undefined) {
          checkMessage(
            schema,
            rule.message,
            new Cursor(cur.buf, start, cur.pos),
            depth + 1,
            depthMax,
          )
        } else if (rule?.isString) {
          try {
            utf8.decode(cur.buf.subarray(start, cur.pos))
          } catch {
            throw new WireError(`${typeName}.${rule.name} is not valid UTF-8`)
          }
        } else if (packed) {
          checkPacked(cur.buf.subarray(start, cur.pos), rule!.wireType, `${typeName}.${rule!.name}`)
        }
        break
      }
      default:
        throw new WireError(`unsupported wire type ${wireType} at offset ${tagAt}`)
    }
  }
}

function checkPacked(buf: Uint8Array, elementWireType: number, what: string): void {
  const cur = new Cursor(buf, 0, buf.length)
  while (cur.pos < cur.end) {
    if (elementWireType === WIRE_VARINT) cur.varint(what)
    else cur.skip(elementWireType === WIRE_FIXED64 ? 8 : 4, what)
  }
}
