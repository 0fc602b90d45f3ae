/**
 * One account change → its D365 customer. Create is crash-safe: before creating, the customer is
 * looked up by the Salesforce id kept in `CustomersV3.IdentificationNumber`, so a job that dies
 * between the create and the write-back finds its customer on the next run instead of creating a
 * second one. The ledger remembers a finished D365 step, so a failed write-back retries alone.
 */

import { randomUUID } from 'node:crypto';
import type { D365Client } from '../../d365/index.ts';
import { filter } from '../../d365/odata.ts';
import { isClientError } from '../../net/errors.ts';
import { d365Of, salesforceOf } from '../shared/clients.ts';
import { repMessage } from '../shared/messages.ts';
import { withRecordLock } from '../shared/record-lock.ts';
import { writeBackError, writeBackFor } from '../shared/writeback.ts';
import type { FlowContext, FlowOutcome } from '../types.ts';
import {
  customerCreateBody,
  customerPatchBody,
  mapAccountToCustomer,
  parseAccountEvent,
  warningText,
  type AccountSyncEvent,
  type MappedCustomer
} from './mapping.ts';
import { ACCOUNT_FLOW, accountSettings, type AccountSettings } from './settings.ts';

export const CUSTOMERS = 'CustomersV3';
/** Pending account jobs are gathered into one bulk job per window when the backlog is large. */
export const BULK_WINDOW_MS = 10_000;
/** Margin after a window closes, so deferred jobs have written their Pending status first. */
const BULK_START_MARGIN_MS = 2_000;

export interface CustomerRef {
  dataAreaId: string;
  CustomerAccount: string;
}

/** The customer that carries this Salesforce id, in any legal entity. */
export async function findCustomerBySalesforceId(
  d365: D365Client,
  accountId: string,
  /** Only a customer of this legal entity (any by default). */
  legalEntity?: string
): Promise<CustomerRef | null> {
  const byId = filter.eq('IdentificationNumber', accountId);
  for await (const row of d365.query<CustomerRef>(CUSTOMERS, {
    filter:
      legalEntity === undefined ? byId : filter.and(filter.eq('dataAreaId', legalEntity), byId),
    select: ['dataAreaId', 'CustomerAccount'],
    crossCompany: true,
    top: 1
  })) {
    return { dataAreaId: row.dataAreaId.toLowerCase(), CustomerAccount: row.CustomerAccount };
  }
  return null;
}

async function deferToBulk(event: AccountSyncEvent, context: FlowContext): Promise<FlowOutcome> {
  const now = Date.now();
  const bucket = Math.floor(now / BULK_WINDOW_MS);
  await context.store.enqueue({
    flow: ACCOUNT_FLOW,
    idempotencyKey: `${ACCOUNT_FLOW}:bulk:${bucket}`,
    payload: { trigger: 'bulk' },
    maxAttempts: context.maxAttempts,
    correlationId: randomUUID(),
    runAt: (bucket + 1) * BULK_WINDOW_MS + BULK_START_MARGIN_MS
  });
  const result = await writeBackFor(salesforceOf(context)).write({
    sobject: 'Account',
    id: event.recordId,
    fields: { D365_Sync_Status__c: 'Pending' }
  });
  if (!result.success) throw writeBackError(result, `account ${event.recordId}`);
  return { status: 'skipped', reason: 'deferred to the bulk import (large backlog)' };
}

/** Writes the outcome to the account and publishes the sync result event. */
async function writeResult(
  context: FlowContext,
  event: AccountSyncEvent,
  outcome:
    | { status: 'Synced'; customerNumber: string; warnings: string[]; created: boolean }
    | { status: 'Error'; message: string }
): Promise<void> {
  const fields: Record<string, unknown> =
    outcome.status === 'Synced'
      ? {
          D365_Sync_Status__c: 'Synced',
          D365_Last_Synced__c: new Date().toISOString(),
          D365_Last_Sync_Error__c: null,
          D365_Sync_Warning__c: warningText(outcome.warnings),
          ...(outcome.created || event.customerNumber !== outcome.customerNumber
            ? { D365_Customer_Number__c: outcome.customerNumber }
            : {})
        }
      : { D365_Sync_Status__c: 'Error', D365_Last_Sync_Error__c: outcome.message };
  const result = await writeBackFor(salesforceOf(context), { logger: context.logger }).write({
    sobject: 'Account',
    id: event.recordId,
    fields,
    event: {
      recordId: event.recordId,
      idempotencyKey: event.idempotencyKey,
      flow: ACCOUNT_FLOW,
      status: outcome.status,
      ...(outcome.status === 'Synced'
        ? {
            d365Key: outcome.customerNumber,
            ...(outcome.warnings.length ? { message: warningText(outcome.warnings)! } : {})
          }
        : { message: outcome.message })
    }
  });
  if (!result.success) throw writeBackError(result, `account ${event.recordId}`);
}

async function pushToD365(
  d365: D365Client,
  event: AccountSyncEvent,
  mapped: MappedCustomer,
  settings: AccountSettings
): Promise<{ customerNumber: string; created: boolean }> {
  if (event.customerNumber) {
    const body =
      event.operation === 'resync' ? mapped.fields : customerPatchBody(mapped, event.changedFields);
    if (Object.keys(body).length > 0) {
      await d365.update(
        CUSTOMERS,
        { dataAreaId: mapped.dataAreaId, CustomerAccount: event.customerNumber },
        body,
        { crossCompany: true }
      );
    }
    return { customerNumber: event.customerNumber, created: false };
  }
  const existing = await findCustomerBySalesforceId(d365, event.recordId);
  if (existing) {
    // Created by an earlier run whose write-back never happened: bring it up to date, no second customer.
    await d365.update(CUSTOMERS, { ...existing }, mapped.fields, { crossCompany: true });
    return { customerNumber: existing.CustomerAccount, created: true };
  }
  const created = await d365.create<CustomerRef>(CUSTOMERS, customerCreateBody(mapped, settings));
  return { customerNumber: created.CustomerAccount, created: true };
}

export async function handleAccountEvent(
  payload: unknown,
  context: FlowContext
): Promise<FlowOutcome> {
  const event = parseAccountEvent(payload);
  const settings = accountSettings(context.config);
  const pending = (await context.store.counts()).pending[ACCOUNT_FLOW] ?? 0;
  if (pending > settings.bulkThreshold) return deferToBulk(event, context);
  return withRecordLock(context, ACCOUNT_FLOW, event.recordId, () =>
    syncOne(event, settings, context)
  );
}

async function syncOne(
  event: AccountSyncEvent,
  settings: AccountSettings,
  context: FlowContext
): Promise<FlowOutcome> {
  const mapped = mapAccountToCustomer(event, settings);
  const [ledger] = await context.store.queryLedger({
    flow: ACCOUNT_FLOW,
    salesforceId: event.recordId,
    limit: 1
  });
  let result: { customerNumber: string; created: boolean };
  if (ledger?.contentHash === event.idempotencyKey && ledger.lastStatus === 'Pending') {
    // D365 already has this change (an earlier attempt); only the write-back is left.
    result = { customerNumber: ledger.d365Key ?? '', created: true };
  } else {
    try {
      result = await pushToD365(d365Of(context), event, mapped, settings);
    } catch (error) {
      const permanent = isClientError(error) && !error.retryable;
      const lastAttempt = context.attempt >= context.maxAttempts;
      if (!permanent && !lastAttempt) throw error;
      const message = permanent
        ? repMessage(error, 'this account')
        : `D365 did not accept this account after ${context.attempt} attempts (it was busy or unreachable). Save the account again later, or ask your admin.`;
      await context.store.upsertLedger({
        flow: ACCOUNT_FLOW,
        recordKey: event.recordId,
        salesforceId: event.recordId,
        d365Key: event.customerNumber,
        lastStatus: 'Error',
        lastError: message,
        contentHash: event.idempotencyKey,
        correlationId: context.correlationId
      });
      await writeResult(context, event, { status: 'Error', message });
      if (!permanent) throw error;
      context.logger.warn({ err: error }, 'D365 refused the account; recorded on the account');
      return { status: 'skipped', reason: 'D365 refused the account (recorded on it)' };
    }
    await context.store.upsertLedger({
      flow: ACCOUNT_FLOW,
      recordKey: event.recordId,
      salesforceId: event.recordId,
      d365Key: result.customerNumber,
      lastStatus: 'Pending',
      lastError: null,
      contentHash: event.idempotencyKey,
      correlationId: context.correlationId
    });
  }
  await writeResult(context, event, { status: 'Synced', ...result, warnings: mapped.warnings });
  await context.store.upsertLedger({
    flow: ACCOUNT_FLOW,
    recordKey: event.recordId,
    salesforceId: event.recordId,
    d365Key: result.customerNumber,
    lastStatus: 'Synced',
    lastError: null,
    contentHash: event.idempotencyKey,
    correlationId: context.correlationId
  });
  return { status: 'done' };
}
