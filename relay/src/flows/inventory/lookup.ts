import type { D365Client } from '../../d365/index.ts';
import { isClientError } from '../../net/errors.ts';
import {
  ON_HAND_ENTITY,
  ON_HAND_FIELDS,
  onHandFilter,
  toItemStock,
  type ItemStock,
  type OnHandRow,
  type SiteStock
} from './mapping.ts';

/** What the package's `D365InventoryController.InventoryResult` reads (docs/contracts.md). */
export interface InventoryAnswer {
  legalEntity: string;
  asOf: string;
  ageSeconds: number;
  stale: boolean;
  items: ItemStock[];
}

export interface InventoryLookupOptions {
  d365: Pick<D365Client, 'query'>;
  /** How long stock read from D365 is served without asking again. */
  cacheTtlMs: number;
  /** The whole D365 read must finish within this; keep it below the Apex callout timeout. */
  deadlineMs: number;
  /** Bound on cached (legal entity, item) entries; the oldest written goes first. */
  maxEntries?: number;
  now?: () => number;
}

export interface InventoryLookup {
  lookup(legalEntity: string, items: readonly string[]): Promise<InventoryAnswer>;
}

export type InventoryFailure = 'throttled' | 'timeout' | 'unavailable' | 'auth';

/** D365 could not answer and no earlier stock of every item is known; the message is for a rep. */
export class InventoryUnavailableError extends Error {
  readonly failure: InventoryFailure;
  constructor(failure: InventoryFailure, options?: { cause?: unknown }) {
    super(MESSAGES[failure], options);
    this.name = 'InventoryUnavailableError';
    this.failure = failure;
  }
}

const MESSAGES: Record<InventoryFailure, string> = {
  throttled:
    'D365 is busy right now and the relay has no recent stock for these items. Try again in a minute.',
  timeout:
    'D365 did not answer in time and the relay has no recent stock for these items. Try again in a minute.',
  unavailable:
    'D365 cannot be reached right now and the relay has no recent stock for these items. Try again in a few minutes.',
  auth: 'The relay cannot sign in to D365, so stock cannot be shown. Tell your admin.'
};

const DEFAULT_MAX_ENTRIES = 10_000;

interface CacheEntry {
  sites: SiteStock[];
  readAt: number;
}

class DeadlineExceeded extends Error {}

/**
 * Cached, coalesced on-hand lookups. Entries are kept per (legal entity, item) so overlapping
 * lookups share them; identical concurrent reads share one D365 request. Entries stay after their
 * TTL as the last known values, served with `stale: true` when D365 fails or misses the deadline.
 */
export function createInventoryLookup(options: InventoryLookupOptions): InventoryLookup {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const cache = new Map<string, CacheEntry>();
  const inFlight = new Map<string, Promise<void>>();
  const keyOf = (legalEntity: string, item: string) => `${legalEntity}\u0000${item}`;

  function remember(legalEntity: string, stock: ItemStock[], readAt: number): void {
    for (const { itemNumber, sites } of stock) {
      const key = keyOf(legalEntity, itemNumber);
      cache.delete(key);
      cache.set(key, { sites, readAt });
      if (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
    }
  }

  async function read(legalEntity: string, items: readonly string[]): Promise<void> {
    const startedAt = now();
    const rows: OnHandRow[] = [];
    // cross-company: D365 reads only the caller's default company otherwise; the filter names the one asked for.
    for await (const row of options.d365.query<OnHandRow>(ON_HAND_ENTITY, {
      filter: onHandFilter(legalEntity, items),
      select: ON_HAND_FIELDS,
      crossCompany: true
    })) {
      rows.push(row);
    }
    remember(legalEntity, toItemStock(items, rows), startedAt);
  }

  function readShared(legalEntity: string, items: readonly string[]): Promise<void> {
    const flightKey = `${legalEntity}\u0000${[...items].sort().join('\u0000')}`;
    const running = inFlight.get(flightKey);
    if (running) return running;
    const started = read(legalEntity, items).finally(() => inFlight.delete(flightKey));
    inFlight.set(flightKey, started);
    return started;
  }

  function answer(legalEntity: string, items: readonly string[], stale: boolean): InventoryAnswer {
    const at = now();
    let oldest = at;
    const stock = items.map((itemNumber) => {
      const entry = cache.get(keyOf(legalEntity, itemNumber)) as CacheEntry;
      oldest = Math.min(oldest, entry.readAt);
      return { itemNumber, sites: entry.sites };
    });
    return {
      legalEntity,
      asOf: new Date(oldest).toISOString(),
      ageSeconds: Math.max(0, Math.floor((at - oldest) / 1000)),
      stale,
      items: stock
    };
  }

  async function withDeadline(work: Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new DeadlineExceeded()), options.deadlineMs);
    });
    try {
      await Promise.race([work, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    async lookup(legalEntity, items) {
      const at = now();
      const missing = items.filter((item) => {
        const entry = cache.get(keyOf(legalEntity, item));
        return !entry || at - entry.readAt >= options.cacheTtlMs;
      });
      if (missing.length === 0) {
        return answer(legalEntity, items, false);
      }
      try {
        // A read that misses the deadline keeps running and fills the cache for the next caller.
        await withDeadline(readShared(legalEntity, missing));
        return answer(legalEntity, items, false);
      } catch (error) {
        if (items.every((item) => cache.has(keyOf(legalEntity, item)))) {
          return answer(legalEntity, items, true);
        }
        throw new InventoryUnavailableError(failureOf(error), { cause: error });
      }
    }
  };
}

function failureOf(error: unknown): InventoryFailure {
  if (error instanceof DeadlineExceeded) return 'timeout';
  if (isClientError(error)) {
    if (error.kind === 'throttled') return 'throttled';
    if (error.kind === 'auth') return 'auth';
  }
  return 'unavailable';
}
