/**
 * The other direction for the fields D365 owns (credit limit, customer group, on-hold): run on the
 * schedule ACCOUNT_PULL_CRON. Per field, ACCOUNT_FIELD_OWNERSHIP says which side wins; only values
 * that differ are written, and on the Salesforce side only integration-owned `D365_*` fields, which
 * the package's echo guard never turns into a sync event: nothing bounces back.
 */

import type { D365Client } from '../../d365/index.ts';
import { filter } from '../../d365/odata.ts';
import type { SalesforceClient } from '../../salesforce/index.ts';
import { d365Of, salesforceOf } from '../shared/clients.ts';
import { writeBackError, writeBackFor } from '../shared/writeback.ts';
import type { FlowContext, FlowOutcome } from '../types.ts';
import { CUSTOMERS } from './handler.ts';
import { OWNED_FIELDS, ownedFieldChanges, type FieldOwnership } from './mapping.ts';
import { ACCOUNT_FLOW, accountSettings } from './settings.ts';

export interface PullReport {
  compared: number;
  salesforceUpdates: number;
  d365Updates: number;
}

const SALESFORCE_FIELDS = Object.values(OWNED_FIELDS).map((f) => f.salesforce);
const D365_FIELDS = Object.values(OWNED_FIELDS).map((f) => f.d365);

export async function pullOwnedFields(deps: {
  d365: D365Client;
  salesforce: SalesforceClient;
  ownership: FieldOwnership;
}): Promise<PullReport> {
  const { d365, salesforce, ownership } = deps;
  const customers = new Map<string, Record<string, unknown>>();
  for await (const row of d365.query<Record<string, unknown>>(CUSTOMERS, {
    filter: filter.ne('IdentificationNumber', ''),
    select: ['dataAreaId', 'CustomerAccount', 'IdentificationNumber', ...D365_FIELDS],
    crossCompany: true
  })) {
    customers.set(String(row.IdentificationNumber), row);
  }
  const report: PullReport = { compared: 0, salesforceUpdates: 0, d365Updates: 0 };
  const writeBack = writeBackFor(salesforce);
  const writes: Array<Promise<void>> = [];
  for await (const account of salesforce.query<Record<string, unknown>>(
    `SELECT Id, D365_Customer_Number__c, ${SALESFORCE_FIELDS.join(', ')} FROM Account WHERE D365_Customer_Number__c != null`
  )) {
    const customer = customers.get(String(account.Id));
    if (!customer) continue;
    report.compared += 1;
    const changes = ownedFieldChanges(customer, account, ownership);
    if (Object.keys(changes.salesforce).length > 0) {
      report.salesforceUpdates += 1;
      writes.push(
        writeBack
          .write({ sobject: 'Account', id: String(account.Id), fields: changes.salesforce })
          .then((result) => {
            if (!result.success) throw writeBackError(result, `account ${String(account.Id)}`);
          })
      );
    }
    if (Object.keys(changes.d365).length > 0) {
      report.d365Updates += 1;
      await d365.update(
        CUSTOMERS,
        {
          dataAreaId: String(customer.dataAreaId),
          CustomerAccount: String(customer.CustomerAccount)
        },
        changes.d365,
        { crossCompany: true }
      );
    }
  }
  await Promise.all(writes);
  return report;
}

export async function handlePull(context: FlowContext): Promise<FlowOutcome> {
  const report = await pullOwnedFields({
    d365: d365Of(context),
    salesforce: salesforceOf(context),
    ownership: accountSettings(context.config).ownership
  });
  context.logger.info(report, 'D365-owned account fields pulled');
  await context.store.upsertLedger({
    flow: ACCOUNT_FLOW,
    recordKey: 'pull:d365-owned',
    salesforceId: null,
    d365Key: null,
    lastStatus: 'Synced',
    lastError: null,
    contentHash: null,
    correlationId: context.correlationId
  });
  return { status: 'done' };
}
