/**
 * One contact change → its D365 contact person. A contact whose account is not a D365 customer yet
 * triggers that account's sync and waits for it (bounded retries with backoff, then a dead letter
 * with the reason, written on the contact too). A duplicate person on the customer is recorded on
 * the contact and skipped, not retried.
 */

import { PermanentFlowError } from '../../errors.ts';
import type { D365Client } from '../../d365/index.ts';
import { filter } from '../../d365/odata.ts';
import { ClientError, isClientError } from '../../net/errors.ts';
import { soqlString } from '../../salesforce/soql.ts';
import { ACCOUNT_QUERY_FIELDS, accountCreateEvent } from '../account/mapping.ts';
import { ACCOUNT_FLOW, accountSettings } from '../account/settings.ts';
import { d365Of, salesforceOf } from '../shared/clients.ts';
import { repMessage } from '../shared/messages.ts';
import { withRecordLock } from '../shared/record-lock.ts';
import { writeBackError, writeBackFor } from '../shared/writeback.ts';
import type { FlowContext, FlowOutcome } from '../types.ts';
import {
  isSamePerson,
  mapContactToPerson,
  parseContactEvent,
  personPatchBody,
  type ContactSyncEvent
} from './mapping.ts';

export const CONTACT_FLOW = 'contacts';
export const CONTACT_PERSONS = 'ContactPersons';
/** Attempts a contact waits for its account to become a customer (about 4 minutes with backoff). */
export const CONTACT_MAX_ATTEMPTS = 8;
/** Retry-After while waiting for the account: short at first, the worker's backoff grows it. */
const ACCOUNT_WAIT_MS = 1_000;

type Outcome =
  | { status: 'Synced'; personId: string; warnings: string[]; created: boolean }
  | { status: 'Error'; message: string };

async function writeResult(
  context: FlowContext,
  event: ContactSyncEvent,
  outcome: Outcome
): Promise<void> {
  const fields: Record<string, unknown> =
    outcome.status === 'Synced'
      ? {
          D365_Sync_Status__c: 'Synced',
          D365_Last_Sync_Error__c: null,
          D365_Sync_Warning__c: outcome.warnings.length ? outcome.warnings.join('; ') : null,
          ...(outcome.created ? { D365_Contact_Person_Id__c: outcome.personId } : {})
        }
      : { D365_Sync_Status__c: 'Error', D365_Last_Sync_Error__c: outcome.message };
  const result = await writeBackFor(salesforceOf(context), { logger: context.logger }).write({
    sobject: 'Contact',
    id: event.recordId,
    fields,
    event: {
      recordId: event.recordId,
      idempotencyKey: event.idempotencyKey,
      flow: CONTACT_FLOW,
      status: outcome.status,
      ...(outcome.status === 'Synced'
        ? {
            d365Key: outcome.personId,
            ...(outcome.warnings.length ? { message: outcome.warnings.join('; ') } : {})
          }
        : { message: outcome.message })
    }
  });
  if (!result.success) throw writeBackError(result, `contact ${event.recordId}`);
}

async function recordError(
  context: FlowContext,
  event: ContactSyncEvent,
  message: string
): Promise<void> {
  await context.store.upsertLedger({
    flow: CONTACT_FLOW,
    recordKey: event.recordId,
    salesforceId: event.recordId,
    d365Key: event.contactPersonId,
    lastStatus: 'Error',
    lastError: message,
    contentHash: event.idempotencyKey,
    correlationId: context.correlationId
  });
  await writeResult(context, event, { status: 'Error', message });
}

/** The account's customer number now (the event may predate its sync); queues its sync when it has none. */
async function customerNumberOf(
  event: ContactSyncEvent,
  context: FlowContext
): Promise<string | null> {
  if (event.contact.Account.D365_Customer_Number__c)
    return event.contact.Account.D365_Customer_Number__c;
  let account: Record<string, unknown> | undefined;
  for await (const row of salesforceOf(context).query<Record<string, unknown>>(
    `SELECT ${ACCOUNT_QUERY_FIELDS.join(', ')}, D365_Sync_Status__c FROM Account WHERE Id = ${soqlString(event.accountId)}`
  )) {
    account = row;
  }
  if (!account) return null;
  if (account.D365_Customer_Number__c) return String(account.D365_Customer_Number__c);
  // Same shape as the account trigger's event, so the account flow treats it like any create.
  await context.store.enqueue({
    flow: ACCOUNT_FLOW,
    idempotencyKey: `${ACCOUNT_FLOW}:for-contact:${event.accountId}`,
    payload: accountCreateEvent(event.accountId, account, {
      idempotencyKey: `${event.accountId}:for-contact:${event.idempotencyKey}`.slice(0, 80),
      legalEntity: event.legalEntity
    }),
    maxAttempts: context.maxAttempts,
    correlationId: context.correlationId
  });
  return null;
}

async function partyOf(
  d365: D365Client,
  legalEntity: string,
  customerNumber: string
): Promise<string | null> {
  const customer = await d365.get<{ PartyNumber: string }>(
    'CustomersV3',
    { dataAreaId: legalEntity, CustomerAccount: customerNumber },
    { select: ['PartyNumber'], crossCompany: true }
  );
  return customer?.PartyNumber ?? null;
}

export async function handleContactEvent(
  payload: unknown,
  context: FlowContext
): Promise<FlowOutcome> {
  const event = parseContactEvent(payload);
  return withRecordLock(context, CONTACT_FLOW, event.recordId, () => syncOne(event, context));
}

async function syncOne(event: ContactSyncEvent, context: FlowContext): Promise<FlowOutcome> {
  const d365 = d365Of(context);
  const legalEntity = event.legalEntity ?? accountSettings(context.config).defaultLegalEntity;
  const mapped = mapContactToPerson(event.contact);

  const [ledger] = await context.store.queryLedger({
    flow: CONTACT_FLOW,
    salesforceId: event.recordId,
    limit: 1
  });
  if (
    ledger?.contentHash === event.idempotencyKey &&
    ledger.lastStatus === 'Pending' &&
    ledger.d365Key
  ) {
    // D365 already has this change; only the write-back is left.
    await writeResult(context, event, {
      status: 'Synced',
      personId: ledger.d365Key,
      warnings: mapped.warnings,
      created: !event.contactPersonId
    });
    return { status: 'done' };
  }

  const customerNumber = await customerNumberOf(event, context);
  if (!customerNumber) {
    const reason = `The account of this contact is not a D365 customer yet, so the contact was not sent. Its account sync was started; save the contact again once the account shows "Synced".`;
    if (context.attempt >= context.maxAttempts) {
      await recordError(context, event, reason);
      throw new PermanentFlowError(
        `Account ${event.accountId} did not become a D365 customer within ${context.attempt} attempts`
      );
    }
    throw new ClientError(`Account ${event.accountId} is not a D365 customer yet; waiting`, {
      system: 'd365',
      kind: 'transient',
      code: 'ACCOUNT_NOT_SYNCED',
      retryAfterMs: ACCOUNT_WAIT_MS
    });
  }

  let personId: string;
  let created = false;
  try {
    const party = await partyOf(d365, legalEntity, customerNumber);
    if (!party) {
      await recordError(
        context,
        event,
        `The account's D365 customer ${customerNumber} was not found in legal entity ${legalEntity}. Check the account's D365 fields, or ask your admin.`
      );
      return { status: 'skipped', reason: 'customer not found' };
    }
    if (event.contactPersonId) {
      personId = event.contactPersonId;
      const body: Record<string, string> = personPatchBody(mapped, event.changedFields);
      if (event.changedFields.includes('AccountId')) body.AssociatedPartyNumber = party;
      if (Object.keys(body).length > 0)
        await d365.update(
          CONTACT_PERSONS,
          { dataAreaId: legalEntity, ContactPersonId: personId },
          body,
          { crossCompany: true }
        );
    } else {
      let match: Record<string, unknown> | undefined;
      for await (const row of d365.query<Record<string, unknown>>(CONTACT_PERSONS, {
        filter: filter.eq('AssociatedPartyNumber', party),
        select: ['dataAreaId', 'ContactPersonId', 'FirstName', 'LastName', 'PrimaryEmailAddress'],
        crossCompany: true
      })) {
        if (isSamePerson(row, mapped)) match = row;
      }
      if (match && context.attempt === 1) {
        await recordError(
          context,
          event,
          `D365 already has this person as contact ${String(match.ContactPersonId)} of customer ${customerNumber} (same ${mapped.fields.PrimaryEmailAddress ? 'e-mail' : 'name'}), so no second one was created. If it is the same person, ask your admin to link them; otherwise change the e-mail or name and save again.`
        );
        return { status: 'skipped', reason: 'duplicate contact person in D365' };
      }
      if (match) {
        // A retry finding the person an earlier attempt of this job created before it could record it.
        personId = String(match.ContactPersonId);
      } else {
        const person = await d365.create<{ ContactPersonId: string }>(CONTACT_PERSONS, {
          dataAreaId: legalEntity,
          AssociatedPartyNumber: party,
          ...mapped.fields
        });
        personId = person.ContactPersonId;
      }
      created = true;
    }
  } catch (error) {
    if (isClientError(error) && error.system === 'd365' && !error.retryable) {
      const message =
        error.kind === 'conflict'
          ? `D365 already has this contact person: ${repMessage(error, 'this contact')}`
          : repMessage(error, 'this contact');
      await recordError(context, event, message);
      return { status: 'skipped', reason: `D365 refused the contact (${error.kind})` };
    }
    throw error;
  }
  await context.store.upsertLedger({
    flow: CONTACT_FLOW,
    recordKey: event.recordId,
    salesforceId: event.recordId,
    d365Key: personId,
    lastStatus: 'Pending',
    lastError: null,
    contentHash: event.idempotencyKey,
    correlationId: context.correlationId
  });
  await writeResult(context, event, {
    status: 'Synced',
    personId,
    warnings: mapped.warnings,
    created
  });
  await context.store.upsertLedger({
    flow: CONTACT_FLOW,
    recordKey: event.recordId,
    salesforceId: event.recordId,
    d365Key: personId,
    lastStatus: 'Synced',
    lastError: null,
    contentHash: event.idempotencyKey,
    correlationId: context.correlationId
  });
  return { status: 'done' };
}
