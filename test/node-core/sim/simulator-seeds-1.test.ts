// Share 1 of 2 of the simulator's CI seeds (see seed-share.ts).
import { describe } from 'vitest'
import { seedShareTest } from './seed-share'

describe('simulator seeds', () => seedShareTest(0, 2))
