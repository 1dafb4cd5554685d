import { describe, expect, it } from 'vitest';
import { KernelArgumentError } from '../runtime/errors.js';
import { pairOf } from './padding.js';

describe('pairOf', () => {
  it('expands one number to both axes and passes [h, w] through', () => {
    expect(pairOf('k', 'stride', 2)).toEqual([2, 2]);
    expect(pairOf('k', 'dilation', [1, 3])).toEqual([1, 3]);
  });

  it('rejects anything but positive integers, naming kernel and argument', () => {
    expect(() => pairOf('k', 'stride', 0)).toThrow(KernelArgumentError);
    expect(() => pairOf('k', 'stride', [1, 1.5])).toThrow(/k: argument 'stride' expected a positive integer, found 1.5/);
    expect(() => pairOf('k', 'dilation', [2, -1])).toThrow(/argument 'dilation'/);
    expect(() => pairOf('k', 'stride', [1, 2, 3] as never)).toThrow(/expected a positive integer or \[h, w\]/);
  });
});
