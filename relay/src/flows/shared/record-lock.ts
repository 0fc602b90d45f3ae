import { ClientError } from '../../net/errors.ts';
import type { FlowContext } from '../types.ts';

/** Longest a job may hold a record; a crashed job's lock frees itself after this. */
const RECORD_LOCK_MS = 60_000;
/** Retry-After for a job that found its record locked by another. */
const RECORD_BUSY_RETRY_MS = 500;

/**
 * Runs `work` while holding a store lease on one record, so two jobs for the same record (a create
 * and a quick edit right after it) never run their D365 steps at once: the second would not yet
 * see the first's customer and create another. A job that finds the record busy is retried soon.
 */
export async function withRecordLock<T>(
  context: Pick<FlowContext, 'store' | 'jobId'>,
  flow: string,
  recordId: string,
  work: () => Promise<T>
): Promise<T> {
  const name = `${flow}:record:${recordId}`;
  const holder = `job:${context.jobId}`;
  if (!(await context.store.acquireLease(name, holder, RECORD_LOCK_MS)))
    throw new ClientError(`Another job is syncing ${recordId}; trying again shortly`, {
      system: 'd365',
      kind: 'transient',
      code: 'RECORD_BUSY',
      retryAfterMs: RECORD_BUSY_RETRY_MS
    });
  try {
    return await work();
  } finally {
    await context.store.releaseLease(name, holder);
  }
}
