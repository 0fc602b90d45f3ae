/**
 * The D365 customer of an opportunity's account when the order request carries no customer number:
 * found by the Salesforce account id stored in `CustomersV3.IdentificationNumber`, or created first.
 */

import type { D365Client } from '../../d365/index.ts';
import { filter } from '../../d365/index.ts';
import { ClientError } from '../../net/errors.ts';
import { soqlString } from '../../salesforce/index.ts';
import { handleAccountEvent } from '../account/handler.ts';
import { ACCOUNT_FLOW } from '../account/settings.ts';
import { d365Of, salesforceOf } from '../shared/clients.ts';
import type { FlowContext } from '../types.ts';
import { OrderRejection, rejectionMessage, type OrderRequest } from './mapping.ts';

/** Looks the account's customer up in the order's legal entity; null when D365 has none. */
export async function findCustomer(
  d365: D365Client,
  request: Pick<OrderRequest, 'accountId' | 'legalEntity'>
): Promise<string | null> {
  for await (const row of d365.query<{ CustomerAccount: string }>('CustomersV3', {
    filter: filter.and(
      filter.eq('dataAreaId', request.legalEntity),
      filter.eq('IdentificationNumber', request.accountId)
    ),
    select: ['CustomerAccount'],
    top: 1,
    crossCompany: true
  }))
    return row.CustomerAccount;
  return null;
}

/** Account fields `D365AccountSyncService.payloadOf` sends (CurrencyIsoCode: single-currency orgs have none). */
const ACCOUNT_FIELDS = [
  'Id',
  'Name',
  'BillingStreet',
  'BillingCity',
  'BillingState',
  'BillingPostalCode',
  'BillingCountry',
  'Phone',
  'Website',
  'D365_Legal_Entity__c',
  'D365_Customer_Number__c'
] as const;
/** The mapped fields a create event lists as changed (D365AccountSyncService.MAPPED_FIELDS). */
const ACCOUNT_MAPPED_FIELDS = ACCOUNT_FIELDS.filter(
  (field) => field !== 'Id' && field !== 'D365_Customer_Number__c'
);

/**
 * Resolves the customer of an account that has no D365 customer number: looks it up by the account
 * id; if D365 has none, runs the account flow's own handler on a create event built from the
 * account as Salesforce holds it now (the same payload the account trigger would publish), so the
 * customer is created, mapped and written back exactly as the account flow does it.
 * Throws `OrderRejection` when D365 refused the account, and a retryable error while the account
 * is still on its way (e.g. deferred to the account flow's bulk import).
 */
export async function resolveCustomer(
  request: OrderRequest,
  context: FlowContext
): Promise<string> {
  const d365 = d365Of(context);
  const existing = await findCustomer(d365, request);
  if (existing) return existing;
  const salesforce = salesforceOf(context);
  let account: Record<string, unknown> | undefined;
  for await (const row of salesforce.query<Record<string, unknown>>(
    `SELECT ${ACCOUNT_FIELDS.join(', ')} FROM Account WHERE Id = ${soqlString(request.accountId)}`
  ))
    account = row;
  if (!account)
    throw new OrderRejection(
      rejectionMessage([`The opportunity's account ${request.accountId} no longer exists.`])
    );
  const number = account.D365_Customer_Number__c;
  // Synced since the opportunity was closed: the number is there now.
  if (typeof number === 'string' && number !== '') return number;
  const payload = Object.fromEntries(
    ACCOUNT_FIELDS.map((field) => [field, account[field] ?? null])
  );
  await handleAccountEvent(
    {
      Record_Id__c: request.accountId,
      Idempotency_Key__c: `${request.accountId}:order:${request.opportunityId}`,
      Operation__c: 'create',
      Legal_Entity__c: request.legalEntity,
      D365_Customer_Number__c: null,
      Changed_Fields__c: ACCOUNT_MAPPED_FIELDS.join(','),
      Payload__c: JSON.stringify({ ...payload, CurrencyIsoCode: null })
    },
    context
  );
  const created = await findCustomer(d365, request);
  if (created) return created;
  const [ledger] = await context.store.queryLedger({
    flow: ACCOUNT_FLOW,
    salesforceId: request.accountId,
    limit: 1
  });
  if (ledger?.lastStatus === 'Error')
    throw new OrderRejection(
      rejectionMessage([
        `The account could not be created as a D365 customer: ${ledger.lastError ?? 'see the account'}`
      ])
    );
  if (ledger?.lastStatus === 'Synced')
    throw new OrderRejection(
      rejectionMessage([
        `The account's D365 customer ${ledger.d365Key ?? ''} is not in legal entity ${request.legalEntity}. Set the account's D365 legal entity to match.`
      ])
    );
  throw new ClientError(
    `Account ${request.accountId} is not yet a D365 customer in ${request.legalEntity}`,
    { system: 'd365', kind: 'transient', code: 'CUSTOMER_PENDING', retryAfterMs: 5_000 }
  );
}
