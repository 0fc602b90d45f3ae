import { describe, expect, it } from 'vitest';
import { backoffCeilingMs, backoffDelayMs } from '../../src/net/backoff.ts';

describe('backoffDelayMs', () => {
  it('doubles the ceiling per attempt from the base, as in the documented table', () => {
    const ceilings = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((attempt) => backoffCeilingMs(attempt));
    expect(ceilings).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000
    ]);
  });

  it('never exceeds the cap, even for huge attempt numbers', () => {
    expect(backoffDelayMs(10_000, { capMs: 5_000, random: () => 0.999999 })).toBeLessThan(5_000);
  });

  it('draws uniformly below the ceiling (full jitter)', () => {
    expect(backoffDelayMs(3, { baseMs: 100, random: () => 0 })).toBe(0);
    expect(backoffDelayMs(3, { baseMs: 100, random: () => 0.5 })).toBe(200);
  });

  it('rejects attempt numbers below 1', () => {
    expect(() => backoffDelayMs(0)).toThrow(RangeError);
  });
});
