import { finiteRange } from './numeric';

describe('finiteRange', () => {
  it('is the min and max of the finite values', () => {
    expect(finiteRange(new Float64Array([3, -2, 7.5, 0]))).toEqual([-2, 7.5]);
    expect(finiteRange(new Float32Array([NaN, 4, Infinity, -Infinity, 1]))).toEqual([1, 4]);
    expect(finiteRange([5])).toEqual([5, 5]);
  });
  it('is [0, 0] when nothing is finite', () => {
    expect(finiteRange([])).toEqual([0, 0]);
    expect(finiteRange([NaN, Infinity])).toEqual([0, 0]);
  });
});
