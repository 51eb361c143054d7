import { describe, expect, it } from 'vitest'
import { fitWithin } from './image'

describe('fitWithin', () => {
  it('scales the long side down to 2048 and keeps the shape', () => {
    expect(fitWithin(4032, 3024)).toEqual({ width: 2048, height: 1536 })
    expect(fitWithin(3024, 4032)).toEqual({ width: 1536, height: 2048 })
  })
  it('leaves a small photo as it is', () => {
    expect(fitWithin(800, 600)).toEqual({ width: 800, height: 600 })
  })
  it('never gives a zero side', () => {
    expect(fitWithin(100000, 10)).toEqual({ width: 2048, height: 1 })
  })
})
