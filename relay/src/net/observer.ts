/** Hooks the clients call so the runtime can turn client activity into metrics; every hook is optional. */

import type { ClientSystem } from './errors.ts';

export interface ClientObserver {
  request?(e: {
    system: ClientSystem;
    operation: string;
    status: number | 'error';
    durationMs: number;
  }): void;
  throttled?(e: { system: ClientSystem; retryAfterMs?: number }): void;
  apiBudget?(e: { used: number; max: number }): void;
  concurrency?(e: { system: ClientSystem; limit: number }): void;
}
