import { isClientError } from '../../net/errors.ts';

/** `D365_Last_Sync_Error__c` is Long Text Area(4000). */
export const SYNC_ERROR_MAX = 4000;

/** The readable part of a client error: the Infolog text D365 gave, without the request details. */
export function errorDetail(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const match = /failed \(\d+\): ([\s\S]*)$/.exec(message);
  return (match?.[1] ?? message).trim();
}

/** What a rep reads on the record when D365 refused a change: what happened, why, what to do. */
export function repMessage(error: unknown, what: string): string {
  let text: string;
  if (isClientError(error) && error.system === 'd365' && error.kind === 'not_found')
    text = `${what} was not found in D365. Check the D365 number and legal entity on the record, or ask your admin.`;
  else if (isClientError(error) && error.system === 'd365' && error.kind === 'auth')
    text = `The connector could not sign in to D365, so ${what} was not sent. Tell your admin.`;
  else if (isClientError(error) && error.system === 'd365')
    text = `D365 refused ${what}: ${errorDetail(error)} Fix the record and save it again.`;
  else
    text = `${what} could not be sent to D365 (${errorDetail(error)}). It will not be retried; save the record again or ask your admin.`;
  return text.length > SYNC_ERROR_MAX ? `${text.slice(0, SYNC_ERROR_MAX - 1)}…` : text;
}
