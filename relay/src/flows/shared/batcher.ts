/**
 * The batching both Salesforce write paths share (record write-back, invoice upserts): items wait
 * at most `maxWaitMs` for others, or go as soon as `maxBatch` are queued, and every caller gets the
 * result of its own entry. A `send` that throws rejects every caller of that batch.
 */

export interface BatcherOptions<E, R> {
  maxWaitMs: number;
  maxBatch: number;
  /** Sends one batch; returns one result per entry, in the batch's order. */
  send(batch: E[]): Promise<R[]>;
}

export interface Batcher<E, R> {
  /**
   * Queues an entry under `key`; `merge` receives the entry already queued under that key (if any)
   * and returns the one to send, so one batch never names a key twice.
   */
  add(key: string, merge: (queued: E | undefined) => E): Promise<R>;
  /** Sends whatever is queued now and waits for every batch in flight. */
  flush(): Promise<void>;
  /** Entries queued at the moment. */
  pending(): number;
}

interface Waiter<R> {
  resolve(result: R): void;
  reject(error: unknown): void;
}

interface Slot<E, R> {
  entry: E;
  waiters: Waiter<R>[];
}

export function createBatcher<E, R>(options: BatcherOptions<E, R>): Batcher<E, R> {
  let queue = new Map<string, Slot<E, R>>();
  let timer: NodeJS.Timeout | null = null;
  const inFlight = new Set<Promise<void>>();

  function startFlush(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = null;
    if (queue.size === 0) return Promise.resolve();
    const batch = [...queue.values()];
    queue = new Map();
    const run = send(batch).finally(() => inFlight.delete(run));
    inFlight.add(run);
    return run;
  }

  async function send(batch: Slot<E, R>[]): Promise<void> {
    let results: R[];
    try {
      results = await options.send(batch.map((slot) => slot.entry));
    } catch (error) {
      for (const slot of batch) for (const waiter of slot.waiters) waiter.reject(error);
      return;
    }
    batch.forEach((slot, index) => {
      for (const waiter of slot.waiters) waiter.resolve(results[index] as R);
    });
  }

  return {
    add(key, merge) {
      return new Promise<R>((resolve, reject) => {
        const queued = queue.get(key);
        const slot: Slot<E, R> = { entry: merge(queued?.entry), waiters: queued?.waiters ?? [] };
        slot.waiters.push({ resolve, reject });
        queue.set(key, slot);
        if (queue.size >= options.maxBatch) void startFlush();
        else timer ??= setTimeout(() => void startFlush(), options.maxWaitMs);
      });
    },
    async flush() {
      await startFlush();
      await Promise.all([...inFlight]);
    },
    pending: () => queue.size
  };
}
