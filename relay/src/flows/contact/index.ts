import { PermanentFlowError } from '../../errors.ts';
import type { Flow } from '../types.ts';
import { CONTACT_FLOW, CONTACT_MAX_ATTEMPTS, handleContactEvent } from './handler.ts';
import { InvalidContactEventError } from './mapping.ts';

export const CONTACT_SYNC_TOPIC = '/event/D365_Contact_Sync__e';

/** Contact → D365 contact person, from `D365_Contact_Sync__e`. */
export const contactFlow: Flow = {
  name: CONTACT_FLOW,
  maxAttempts: CONTACT_MAX_ATTEMPTS,
  topics: [CONTACT_SYNC_TOPIC],
  async handle(payload, context) {
    try {
      return await handleContactEvent(payload, context);
    } catch (error) {
      if (error instanceof InvalidContactEventError)
        throw new PermanentFlowError(`Unreadable contact event: ${error.message}`, {
          cause: error
        });
      throw error;
    }
  }
};
