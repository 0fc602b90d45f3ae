// Fault injection for tests: latency, 5xx, random 429s, dropped connections, slow DMF jobs.

export interface FaultConfig {
  /** Added before each /data request is handled. */
  latency?: { minMs: number; maxMs: number; distribution?: 'uniform' | 'exponential' };
  /** Share of /data requests answered with `errorStatus` (default 503). */
  errorRate?: number;
  errorStatus?: number;
  /** Share of /data requests answered 429 with Retry-After `throttleRetryAfterSeconds` (default 1). */
  throttleRate?: number;
  throttleRetryAfterSeconds?: number;
  /** Share of /data requests whose socket is destroyed without a response. */
  dropRate?: number;
  /** Time each DMF import or export stays `Executing` before it runs. */
  dmfDelayMs?: number;
}

/** Where a scripted fault strikes: `/data` (default) or the Entra token endpoint. */
export type FaultTarget = 'data' | 'token';

export type ScriptedFault = (
  { kind: 'drop' } | { kind: 'status'; status: number; retryAfter?: number }
) & { target?: FaultTarget };

export type FaultDecision =
  { kind: 'none' } | { kind: 'drop' } | { kind: 'status'; status: number; retryAfter?: number };

export class Faults {
  config: FaultConfig;
  /** Faults applied to the next requests in order, before the random ones (deterministic tests). */
  private readonly script: ScriptedFault[] = [];
  private readonly random: () => number;

  constructor(config: FaultConfig = {}, random: () => number = Math.random) {
    this.config = { ...config };
    this.random = random;
  }

  set(config: FaultConfig): void {
    this.config = { ...config };
  }

  enqueue(...faults: ScriptedFault[]): void {
    this.script.push(...faults);
  }

  clear(): void {
    this.config = {};
    this.script.length = 0;
  }

  latencyMs(): number {
    const l = this.config.latency;
    if (!l) return 0;
    if (l.distribution === 'exponential') {
      // Mean halfway between min and max, capped at max: a long-tailed latency profile.
      const mean = (l.maxMs - l.minMs) / 2 || 1;
      return Math.min(l.maxMs, l.minMs - Math.log(1 - this.random()) * mean);
    }
    return l.minMs + this.random() * (l.maxMs - l.minMs);
  }

  /** The next fault for a request to `target`: scripted ones first, random ones for /data only. */
  decide(target: FaultTarget = 'data'): FaultDecision {
    const i = this.script.findIndex((f) => (f.target ?? 'data') === target);
    if (i >= 0) {
      const [scripted] = this.script.splice(i, 1);
      return scripted!.kind === 'drop'
        ? { kind: 'drop' }
        : {
            kind: 'status',
            status: scripted!.status,
            ...(scripted!.retryAfter ? { retryAfter: scripted!.retryAfter } : {})
          };
    }
    if (target !== 'data') return { kind: 'none' };
    const c = this.config;
    if (c.dropRate && this.random() < c.dropRate) return { kind: 'drop' };
    if (c.errorRate && this.random() < c.errorRate)
      return { kind: 'status', status: c.errorStatus ?? 503 };
    if (c.throttleRate && this.random() < c.throttleRate) {
      return { kind: 'status', status: 429, retryAfter: c.throttleRetryAfterSeconds ?? 1 };
    }
    return { kind: 'none' };
  }
}
