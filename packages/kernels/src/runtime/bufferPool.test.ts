import { describe, expect, it } from 'vitest';
import { sizeClass } from './bufferPool.js';

describe('buffer size classes', () => {
  it('round small requests up to 256-byte steps', () => {
    expect(sizeClass(1)).toBe(256);
    expect(sizeClass(256)).toBe(256);
    expect(sizeClass(257)).toBe(512);
    expect(sizeClass(65536)).toBe(65536);
  });

  it('waste at most 1/8 above 64 KiB and never return less than asked', () => {
    for (const bytes of [65537, 100_000, 1_000_000, 12_345_678, 2 ** 27 - 4]) {
      const size = sizeClass(bytes);
      expect(size).toBeGreaterThanOrEqual(bytes);
      expect(size / bytes).toBeLessThanOrEqual(1.125 + 1e-9);
      expect(size % 256).toBe(0);
    }
  });
});
