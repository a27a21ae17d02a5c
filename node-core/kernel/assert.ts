/**
 * The end of an exhaustive `switch` over a discriminated union: TypeScript proves `value` is
 * `never` when every case is handled, so adding a case to the union turns every switch that
 * forgets it into a type error. At run time it is reached only by data that broke the type (a
 * decoder bug), and says so.
 */
export function unreachable(value: never, what: string): never {
  throw new Error(`unreachable: ${what} ${JSON.stringify(value)}`)
}
