import { describe, expect, it } from 'vitest';
import { createBatcher } from '../../../src/flows/shared/batcher.ts';

/** A batcher whose `send` records every batch and answers each entry with its text upper-cased. */
function recording(options: { maxWaitMs?: number; maxBatch?: number; fail?: Error } = {}) {
  const batches: string[][] = [];
  const batcher = createBatcher<string, string>({
    maxWaitMs: options.maxWaitMs ?? 10,
    maxBatch: options.maxBatch ?? 200,
    send: async (batch) => {
      batches.push(batch);
      if (options.fail) throw options.fail;
      return batch.map((entry) => entry.toUpperCase());
    }
  });
  return { batcher, batches };
}

describe('createBatcher', () => {
  it('sends entries added within the wait in one batch, each caller getting its own result', async () => {
    const { batcher, batches } = recording();
    const results = await Promise.all([batcher.add('a', () => 'a'), batcher.add('b', () => 'b')]);
    expect(results).toEqual(['A', 'B']);
    expect(batches).toEqual([['a', 'b']]);
  });

  it('merges entries under one key, and both callers get the merged result', async () => {
    const { batcher, batches } = recording();
    const first = batcher.add('k', () => 'x');
    const second = batcher.add('k', (queued) => `${queued ?? ''}y`);
    expect(await Promise.all([first, second])).toEqual(['XY', 'XY']);
    expect(batches).toEqual([['xy']]);
  });

  it('sends as soon as the batch is full, without waiting', async () => {
    const { batcher, batches } = recording({ maxWaitMs: 60_000, maxBatch: 2 });
    await Promise.all([batcher.add('a', () => 'a'), batcher.add('b', () => 'b')]);
    expect(batches).toEqual([['a', 'b']]);
    expect(batcher.pending()).toBe(0);
  });

  it('rejects every caller of a batch whose send fails', async () => {
    const failure = new Error('Salesforce unavailable');
    const { batcher } = recording({ fail: failure });
    const results = await Promise.allSettled([
      batcher.add('a', () => 'a'),
      batcher.add('b', () => 'b')
    ]);
    expect(results).toEqual([
      { status: 'rejected', reason: failure },
      { status: 'rejected', reason: failure }
    ]);
  });

  it('flush sends what is queued at once and waits for it', async () => {
    const { batcher, batches } = recording({ maxWaitMs: 60_000 });
    const pending = batcher.add('a', () => 'a');
    await batcher.flush();
    expect(batches).toEqual([['a']]);
    expect(await pending).toBe('A');
  });
});
