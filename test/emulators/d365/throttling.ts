// Service protection API limits (shared/reference/d365-fo.md §3): resource-based throttling as a
// token bucket of configurable capacity, and the retired per-user limits as an option.

/** Historic user-based limits per user and app, 5-minute sliding window [MS spl]. */
export interface UserLimits {
  requests: number;
  executionSeconds: number;
  windowSeconds: number;
  concurrent: number;
}

export const USER_LIMITS: Readonly<UserLimits> = {
  requests: 6000,
  executionSeconds: 1200,
  windowSeconds: 300,
  concurrent: 52
};

/** Resource-based 429 text [MS throttling-faq]; `{0}` is the wait in seconds. */
const RESOURCE_MESSAGE =
  'This request could not be processed at this time due to system experiencing high resource utilization. Retry the request after {0} seconds';

export interface ThrottlingConfig {
  /** Sustained requests per second the environment absorbs; undefined or 0 = unlimited. */
  requestsPerSecond?: number;
  /** Bucket size; defaults to one second of capacity. */
  burst?: number;
  /** Fixed Retry-After; default is the time the bucket needs to refill one request, at least 1 s. */
  retryAfterSeconds?: number;
  /** Enables the pre-10.0.36 per-user limits, optionally with other values (tests). */
  userLimits?: boolean | Partial<UserLimits>;
}

const NOTHING_TO_END = (): void => {};

export interface Rejection {
  retryAfter: number;
  message: string;
}

class UserWindow {
  private readonly counts: number[];
  private readonly execMs: number[];
  private second = 0;
  totalCount = 0;
  totalExecMs = 0;
  concurrent = 0;

  constructor(windowSeconds: number) {
    this.counts = new Array<number>(windowSeconds).fill(0);
    this.execMs = new Array<number>(windowSeconds).fill(0);
  }

  advance(nowSecond: number): void {
    const n = this.counts.length;
    if (nowSecond - this.second >= n) {
      this.counts.fill(0);
      this.execMs.fill(0);
      this.totalCount = 0;
      this.totalExecMs = 0;
    } else {
      for (let s = this.second + 1; s <= nowSecond; s++) {
        const i = s % n;
        this.totalCount -= this.counts[i]!;
        this.totalExecMs -= this.execMs[i]!;
        this.counts[i] = 0;
        this.execMs[i] = 0;
      }
    }
    this.second = nowSecond;
  }

  add(nowSecond: number, count: number, ms: number): void {
    this.advance(nowSecond);
    const i = nowSecond % this.counts.length;
    this.counts[i]! += count;
    this.execMs[i]! += ms;
    this.totalCount += count;
    this.totalExecMs += ms;
  }

  /** Seconds until the oldest non-empty second leaves the window. */
  secondsUntilRelief(): number {
    const n = this.counts.length;
    for (let age = n - 1; age >= 0; age--) {
      const s = this.second - age;
      if (s >= 0 && (this.counts[s % n]! > 0 || this.execMs[s % n]! > 0))
        return Math.max(1, n - age);
    }
    return 1;
  }
}

export class Throttle {
  private config: ThrottlingConfig = {};
  private tokens = 0;
  private lastRefill = Date.now();
  private stormUntil = 0;
  private stormRetryAfter = 60;
  private readonly users = new Map<string, UserWindow>();
  rejected = 0;

  constructor(config: ThrottlingConfig = {}) {
    this.set(config);
  }

  set(config: ThrottlingConfig): void {
    this.config = { ...config };
    this.tokens = this.capacity();
    this.lastRefill = Date.now();
    this.users.clear();
  }

  get current(): ThrottlingConfig {
    return { ...this.config };
  }

  /** Every request answers 429 for the given time (a "429 storm"). */
  storm(seconds: number, retryAfterSeconds = 60): void {
    this.stormUntil = Date.now() + seconds * 1000;
    this.stormRetryAfter = retryAfterSeconds;
  }

  private capacity(): number {
    return this.config.burst ?? this.config.requestsPerSecond ?? 0;
  }

  /** Resource-based check for one operation (a request or a $batch part). */
  take(): Rejection | undefined {
    const now = Date.now();
    if (now < this.stormUntil) return this.reject(this.stormRetryAfter);
    const rate = this.config.requestsPerSecond;
    if (!rate) return undefined;
    this.tokens = Math.min(this.capacity(), this.tokens + ((now - this.lastRefill) / 1000) * rate);
    this.lastRefill = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return undefined;
    }
    return this.reject(
      this.config.retryAfterSeconds ?? Math.max(1, Math.ceil((1 - this.tokens) / rate))
    );
  }

  private reject(retryAfter: number): Rejection {
    this.rejected++;
    return { retryAfter, message: RESOURCE_MESSAGE.replace('{0}', String(retryAfter)) };
  }

  private userLimits(): UserLimits | undefined {
    const u = this.config.userLimits;
    if (!u) return undefined;
    return { ...USER_LIMITS, ...(u === true ? {} : u) };
  }

  /**
   * Per-user check at request start (a $batch counts once). Returns a rejection, or a function to
   * call when the request ends so its execution time counts toward the window.
   */
  begin(userKey: string): Rejection | (() => void) {
    const limits = this.userLimits();
    if (!limits) return NOTHING_TO_END;
    let w = this.users.get(userKey);
    if (!w) this.users.set(userKey, (w = new UserWindow(limits.windowSeconds)));
    const started = Date.now();
    const second = Math.floor(started / 1000);
    w.advance(second);
    if (w.concurrent >= limits.concurrent) {
      this.rejected++;
      return {
        retryAfter: 1,
        message: `Number of concurrent requests exceeded the limit of ${limits.concurrent}.`
      };
    }
    if (w.totalCount >= limits.requests) {
      this.rejected++;
      return {
        retryAfter: w.secondsUntilRelief(),
        message: `Number of requests exceeded the limit of ${limits.requests} over the time window of ${limits.windowSeconds} seconds.`
      };
    }
    if (w.totalExecMs >= limits.executionSeconds * 1000) {
      this.rejected++;
      return {
        retryAfter: w.secondsUntilRelief(),
        message: `Combined execution time of incoming requests exceeded the limit of ${limits.executionSeconds} seconds over the time window of ${limits.windowSeconds} seconds. Decrease the number of concurrent requests or reduce the duration of requests and try again later.`
      };
    }
    w.concurrent++;
    w.add(second, 1, 0);
    const window = w;
    return () => {
      window.concurrent--;
      window.add(Math.floor(Date.now() / 1000), 0, Date.now() - started);
    };
  }

  reset(): void {
    this.set(this.config);
    this.stormUntil = 0;
    this.rejected = 0;
  }
}
