/**
 * Accounts in bulk: the initial load (`d365-relay sync accounts --full`), the delta sync, and the
 * backlog path when more account jobs wait than ACCOUNT_BULK_THRESHOLD. A handful of calls whatever
 * the volume: accounts are read through Composite (five query pages, 10,000 records, per call), D365
 * gets one DMF package import per legal entity, the assigned numbers are read back by
 * IdentificationNumber (cross-company OData paging), and the results go back through one Bulk API
 * 2.0 update job (sObject Collections for a few hundred). Failures are written on each account.
 */

import type { D365Client } from '../../d365/index.ts';
import { filter } from '../../d365/odata.ts';
import { ClientError } from '../../net/errors.ts';
import type { SalesforceClient } from '../../salesforce/index.ts';
import { SALESFORCE_COLLECTION_MAX_RECORDS } from '../../salesforce/limits.ts';
import { d365Of, salesforceOf } from '../shared/clients.ts';
import { SYNC_ERROR_MAX } from '../shared/messages.ts';
import { bulkFirstPollDelayMs, publishSyncResults } from '../shared/writeback.ts';
import type { FlowContext, FlowOutcome } from '../types.ts';
import { CUSTOMERS } from './handler.ts';
import {
  ACCOUNT_QUERY_FIELDS,
  mapAccountToCustomer,
  warningText,
  type AccountPayload
} from './mapping.ts';
import { ACCOUNT_FLOW, accountSettings, type AccountSettings } from './settings.ts';

/** Salesforce Composite: at most 5 of the 25 subrequests may be queries or collections. */
const COMPOSITE_MAX_QUERIES = 5;
/** Above this many results the write-back uses one Bulk API 2.0 job instead of Collections calls. */
const BULK_WRITE_BACK_ABOVE = 2 * SALESFORCE_COLLECTION_MAX_RECORDS;
/** DMF data project of the customer imports (created by the import when it does not exist). */
export const CUSTOMER_DATA_PROJECT = 'd365-relay-customers';

const ACCOUNT_FIELDS = [...ACCOUNT_QUERY_FIELDS, 'D365_Sync_Status__c'];

export type BulkMode = 'full' | 'delta' | 'backlog';

export interface BulkReport {
  accounts: number;
  created: number;
  updated: number;
  failed: Array<{ id: string; message: string }>;
}

/** Every account the mode covers, read through Composite query pages (queryMore via references). */
export async function readAccounts(
  salesforce: SalesforceClient,
  mode: BulkMode,
  apiVersion: string
): Promise<Array<AccountPayload & { D365_Sync_Status__c: string | null }>> {
  const where =
    mode === 'full'
      ? ''
      : ` WHERE D365_Customer_Number__c = null OR D365_Sync_Status__c = 'Pending'`;
  const soql = `SELECT ${ACCOUNT_FIELDS.join(', ')} FROM Account${where} ORDER BY Id`;
  const base = `/services/data/v${apiVersion}`;
  const records: Array<AccountPayload & { D365_Sync_Status__c: string | null }> = [];
  let next: string | null = `${base}/query?q=${encodeURIComponent(soql)}`;
  while (next) {
    const first: string = next;
    const subrequests = Array.from({ length: COMPOSITE_MAX_QUERIES }, (_, i) => ({
      method: 'GET' as const,
      referenceId: `page${i}`,
      url: i === 0 ? first : `@{page${i - 1}.nextRecordsUrl}`
    }));
    const responses = await salesforce.composite(subrequests);
    let following: string | null = null;
    for (const response of responses) {
      if (response.httpStatusCode >= 300) {
        if (response.referenceId === 'page0')
          throw new ClientError(`Account query failed (${response.httpStatusCode})`, {
            system: 'salesforce',
            kind: response.httpStatusCode >= 500 ? 'transient' : 'permanent',
            status: response.httpStatusCode
          });
        break;
      }
      const page = response.body as {
        records?: Array<Record<string, unknown>>;
        done?: boolean;
        nextRecordsUrl?: string;
      };
      for (const record of page.records ?? []) {
        const fields = { ...record };
        delete fields.attributes;
        records.push({ CurrencyIsoCode: null, ...fields } as AccountPayload & {
          D365_Sync_Status__c: string | null;
        });
      }
      // The page after the last has no nextRecordsUrl to follow: its subrequest fails, and is not read.
      following = page.done === false && page.nextRecordsUrl ? page.nextRecordsUrl : null;
      if (!following) break;
    }
    next = following;
  }
  return records;
}

/** D365 customers that carry a Salesforce id, by that id (cross-company, paged). */
export async function customersBySalesforceId(
  d365: D365Client
): Promise<Map<string, { dataAreaId: string; CustomerAccount: string }>> {
  const found = new Map<string, { dataAreaId: string; CustomerAccount: string }>();
  for await (const row of d365.query<{
    dataAreaId: string;
    CustomerAccount: string;
    IdentificationNumber: string;
  }>(CUSTOMERS, {
    filter: filter.ne('IdentificationNumber', ''),
    select: ['dataAreaId', 'CustomerAccount', 'IdentificationNumber'],
    crossCompany: true
  })) {
    found.set(row.IdentificationNumber, {
      dataAreaId: row.dataAreaId.toLowerCase(),
      CustomerAccount: row.CustomerAccount
    });
  }
  return found;
}

function clip(text: string): string {
  return text.length > SYNC_ERROR_MAX ? `${text.slice(0, SYNC_ERROR_MAX - 1)}…` : text;
}

export async function runBulkSync(
  mode: BulkMode,
  deps: {
    d365: D365Client;
    salesforce: SalesforceClient;
    settings: AccountSettings;
    apiVersion: string;
    logger?: FlowContext['logger'];
  }
): Promise<BulkReport> {
  const { d365, salesforce, settings } = deps;
  const accounts = await readAccounts(salesforce, mode, deps.apiVersion);
  const report: BulkReport = { accounts: accounts.length, created: 0, updated: 0, failed: [] };
  if (accounts.length === 0) return report;
  const before = await customersBySalesforceId(d365);

  const byEntity = new Map<string, Array<Record<string, string>>>();
  const warnings = new Map<string, string[]>();
  const newIds = new Set<string>();
  for (const account of accounts) {
    const existing = before.get(account.Id);
    const mapped = mapAccountToCustomer(
      { legalEntity: existing?.dataAreaId ?? null, account },
      settings
    );
    warnings.set(account.Id, mapped.warnings);
    const number = existing?.CustomerAccount ?? account.D365_Customer_Number__c;
    const row: Record<string, string> = number
      ? { CustomerAccount: number, ...mapped.fields }
      : { CustomerGroupId: settings.customerGroup, ...mapped.fields };
    if (!number) newIds.add(account.Id);
    const rows = byEntity.get(mapped.dataAreaId) ?? [];
    rows.push(row);
    byEntity.set(mapped.dataAreaId, rows);
  }

  const importErrors = new Map<string, string[]>();
  for (const [legalEntityId, records] of byEntity) {
    const result = await d365.importPackage({
      definitionGroupId: CUSTOMER_DATA_PROJECT,
      entityName: 'Customers V3',
      targetEntity: 'CustCustomerV3Entity',
      legalEntityId,
      records
    });
    if (result.status === 'Failed' && result.errors.length === 0)
      throw new ClientError(`DMF import into ${legalEntityId} failed without details`, {
        system: 'd365',
        kind: 'transient',
        code: 'DMF_FAILED'
      });
    importErrors.set(legalEntityId, result.errors);
    deps.logger?.info(
      { legalEntityId, records: records.length, status: result.status },
      'Customer import finished'
    );
  }

  const after = await customersBySalesforceId(d365);
  const now = new Date().toISOString();
  const updates: Array<Record<string, string | null>> = [];
  for (const account of accounts) {
    const customer = after.get(account.Id);
    const created = newIds.has(account.Id);
    if (customer) {
      if (created) report.created += 1;
      else report.updated += 1;
      updates.push({
        Id: account.Id,
        D365_Customer_Number__c: customer.CustomerAccount,
        D365_Sync_Status__c: 'Synced',
        D365_Last_Synced__c: now,
        D365_Last_Sync_Error__c: null,
        D365_Sync_Warning__c: warningText(warnings.get(account.Id) ?? [])
      });
      continue;
    }
    const entity = mapAccountToCustomer({ legalEntity: null, account }, settings).dataAreaId;
    const reasons = importErrors.get(entity) ?? [];
    const mentioning = reasons.find(
      (r) => r.includes(account.Id) || (account.Name && r.includes(account.Name))
    );
    const message = clip(
      `D365 did not take this account in the bulk import${
        mentioning ? `: ${mentioning}` : reasons[0] ? ` (first import error: ${reasons[0]})` : ''
      }. Fix the account and save it again.`
    );
    report.failed.push({ id: account.Id, message });
    updates.push({
      Id: account.Id,
      D365_Sync_Status__c: 'Error',
      D365_Last_Sync_Error__c: message
    });
  }
  await writeBackInBulk(salesforce, updates);
  await publishSyncResults(
    salesforce,
    updates.map((update) => ({
      recordId: String(update.Id),
      idempotencyKey: `${String(update.Id)}:accounts-${mode}:${now}`,
      flow: ACCOUNT_FLOW,
      status: update.D365_Sync_Status__c === 'Synced' ? 'Synced' : 'Error',
      ...(update.D365_Last_Sync_Error__c ? { message: update.D365_Last_Sync_Error__c } : {}),
      ...(update.D365_Customer_Number__c ? { d365Key: update.D365_Customer_Number__c } : {})
    })),
    deps.logger
  );
  return report;
}

async function writeBackInBulk(
  salesforce: SalesforceClient,
  updates: Array<Record<string, string | null>>
): Promise<void> {
  if (updates.length === 0) return;
  if (updates.length <= BULK_WRITE_BACK_ABOVE) {
    const results = await salesforce.collections.update('Account', updates);
    const failed = results.filter((r) => !r.success);
    if (failed.length > 0)
      throw new ClientError(
        `Salesforce refused ${failed.length} account write-backs: ${failed[0]?.errors[0]?.message}`,
        { system: 'salesforce', kind: 'validation' }
      );
    return;
  }
  const result = await salesforce.bulkIngest({
    object: 'Account',
    operation: 'update',
    records: updates,
    // Only failures matter here, and a first poll timed to the job's size saves status calls.
    results: 'failures',
    firstPollDelayMs: bulkFirstPollDelayMs(updates.length)
  });
  if (result.state !== 'JobComplete' || result.failed.length > 0 || result.unprocessed.length > 0)
    throw new ClientError(
      `Bulk write-back ${result.jobId} ended ${result.state} with ${result.failed.length} failed rows${
        result.failed[0] ? `: ${result.failed[0].message}` : ''
      }`,
      { system: 'salesforce', kind: 'transient', code: 'BULK_WRITE_BACK' }
    );
}

export async function handleBulk(mode: BulkMode, context: FlowContext): Promise<FlowOutcome> {
  const report = await runBulkSync(mode, {
    d365: d365Of(context),
    salesforce: salesforceOf(context),
    settings: accountSettings(context.config),
    apiVersion: context.config?.SF_API_VERSION ?? '62.0',
    logger: context.logger
  });
  context.logger.info(
    {
      mode,
      accounts: report.accounts,
      created: report.created,
      updated: report.updated,
      failed: report.failed.length
    },
    'Account bulk sync finished'
  );
  await context.store.upsertLedger({
    flow: ACCOUNT_FLOW,
    recordKey: `bulk:${mode}`,
    salesforceId: null,
    d365Key: null,
    lastStatus: report.failed.length > 0 ? 'Error' : 'Synced',
    lastError:
      report.failed.length > 0
        ? `${report.failed.length} of ${report.accounts} accounts failed`
        : null,
    contentHash: null,
    correlationId: context.correlationId
  });
  return { status: 'done' };
}
