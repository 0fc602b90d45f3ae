import { describe, expect, it } from 'vitest';
import { AdaptiveLimiter } from '../../src/net/concurrency.ts';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 0;
  return { now: () => t, advance: (ms) => (t += ms) };
}

const success = (): 'success' => 'success';
/** One call that the server accepts, or one it answers 429. */
const accepted = (limiter: AdaptiveLimiter) => limiter.run(async () => undefined, success);
/** `count` accepted calls, `everyMs` apart on the test clock. */
async function acceptedEvery(
  limiter: AdaptiveLimiter,
  time: ReturnType<typeof clock>,
  count: number,
  everyMs: number
): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    time.advance(everyMs);
    await accepted(limiter);
  }
}
/** A wide window and no decrease factor, so each cut's rate is exactly what was measured. */
const measuringLimiter = (time: ReturnType<typeof clock>) =>
  new AdaptiveLimiter({
    system: 'd365',
    maxConcurrency: 40,
    initialConcurrency: 40,
    decreaseFactor: 1,
    now: time.now
  });
const throttled = (limiter: AdaptiveLimiter) =>
  limiter.run(
    async () => undefined,
    () => 'throttled'
  );

describe('AdaptiveLimiter', () => {
  it('never runs more calls at once than its concurrency limit', async () => {
    const limiter = new AdaptiveLimiter({
      system: 'd365',
      maxConcurrency: 3,
      initialConcurrency: 3
    });
    let running = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        limiter.run(async () => {
          running += 1;
          peak = Math.max(peak, running);
          await new Promise((resolve) => setTimeout(resolve, 2));
          running -= 1;
        }, success)
      )
    );
    expect(peak).toBe(3);
  });

  it('grows the window by one after a full window of successes (additive increase)', async () => {
    const limiter = new AdaptiveLimiter({
      system: 'd365',
      maxConcurrency: 10,
      initialConcurrency: 2
    });
    await accepted(limiter);
    await accepted(limiter);
    expect(limiter.state().concurrencyLimit).toBe(3);
  });

  it('on the first 429 cuts the window and paces at half the accepted rate, as a burst may have inflated it', async () => {
    const time = clock();
    const limits: number[] = [];
    const limiter = new AdaptiveLimiter({
      system: 'd365',
      maxConcurrency: 40,
      initialConcurrency: 40,
      decreaseFactor: 0.5,
      now: time.now,
      observer: { concurrency: (e) => limits.push(e.limit) }
    });
    await acceptedEvery(limiter, time, 10, 100);
    expect(limiter.state().ratePerSecond).toBe(Infinity);
    await throttled(limiter);
    expect(limiter.state().concurrencyLimit).toBe(20);
    // 10 successes within the 900 ms since the first one: 11.1/s; halved, then x 0.5 decrease factor.
    expect(limiter.state().ratePerSecond).toBeCloseTo(2.78, 1);
    expect(limits.at(-1)).toBe(20);
  });

  it('on later 429s paces at the rate accepted since the previous cut', async () => {
    const time = clock();
    const limiter = measuringLimiter(time);
    await acceptedEvery(limiter, time, 10, 100);
    await throttled(limiter);
    await acceptedEvery(limiter, time, 5, 200);
    await throttled(limiter);
    // 5 successes in the second since the first cut: the server accepts 5/s.
    expect(limiter.state().ratePerSecond).toBeCloseTo(5, 5);
  });

  it('after slow start paces at the rate accepted since the cut, however large the burst before it', async () => {
    const time = clock();
    const limiter = measuringLimiter(time);
    // Slow start: a burst of 100/s for 200 ms (the server's bucket draining), then the first 429.
    await accepted(limiter);
    await acceptedEvery(limiter, time, 20, 10);
    await throttled(limiter);
    expect(limiter.state().ratePerSecond).toBeCloseTo(52.5, 1);
    // Then the server accepts 20/s: 2 calls in the 100 ms until the next 429.
    await acceptedEvery(limiter, time, 2, 50);
    await throttled(limiter);
    // Half the pacing (52.7/s after 100 ms of additive increase), not half of the burst-inflated last
    // second (~38/s): one step's floor. The 20/s measured would be lower still.
    expect(limiter.state().ratePerSecond).toBeCloseTo(26.35, 2);
  });

  it('ignores further 429s within the cooldown, as they were sent at the old rate', async () => {
    const time = clock();
    const limiter = new AdaptiveLimiter({
      system: 'd365',
      maxConcurrency: 16,
      initialConcurrency: 16,
      decreaseFactor: 0.5,
      now: time.now
    });
    await throttled(limiter);
    await throttled(limiter);
    expect(limiter.state().concurrencyLimit).toBe(8);
  });

  it('spaces call starts by the paced rate after throttling', async () => {
    const limiter = new AdaptiveLimiter({
      system: 'd365',
      maxConcurrency: 8,
      decreaseFactor: 1,
      minRatePerSecond: 50
    });
    await throttled(limiter);
    const starts: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, () =>
        limiter.run(async () => {
          starts.push(performance.now());
        }, success)
      )
    );
    const span = (starts.at(-1) as number) - (starts[0] as number);
    // Six starts at <= ~52/s need at least four intervals of ~19 ms.
    expect(span).toBeGreaterThanOrEqual(70);
    limiter.close();
  });
});
