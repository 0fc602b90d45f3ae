import { PermanentFlowError } from '../../errors.ts';
import type { Flow } from '../types.ts';
import { handleBulk } from './bulk.ts';
import { handleAccountEvent } from './handler.ts';
import { InvalidEventError } from './mapping.ts';
import { handlePull } from './pull.ts';
import { ACCOUNT_FLOW } from './settings.ts';

export const ACCOUNT_SYNC_TOPIC = '/event/D365_Account_Sync__e';

/**
 * Account → D365 customer. Payloads: a `D365_Account_Sync__e` event; `{trigger: 'cli', full}` from
 * `d365-relay sync accounts [--full]`; `{trigger: 'bulk'}` for a large backlog; `{trigger:
 * 'schedule', task: 'pull'}` from the scheduler (D365-owned fields back to Salesforce).
 */
export const accountFlow: Flow = {
  name: ACCOUNT_FLOW,
  topics: [ACCOUNT_SYNC_TOPIC],
  async handle(payload, context) {
    const trigger = (payload as { trigger?: unknown } | null)?.trigger;
    if (trigger === 'cli')
      return handleBulk((payload as { full?: boolean }).full ? 'full' : 'delta', context);
    if (trigger === 'bulk') return handleBulk('backlog', context);
    if (trigger === 'schedule') return handlePull(context);
    try {
      return await handleAccountEvent(payload, context);
    } catch (error) {
      if (error instanceof InvalidEventError)
        throw new PermanentFlowError(`Unreadable account event: ${error.message}`, {
          cause: error
        });
      throw error;
    }
  }
};
