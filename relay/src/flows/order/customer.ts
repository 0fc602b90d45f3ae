/**
 * The D365 customer of an opportunity's account when the order request carries no customer number:
 * found by the Salesforce account id stored in `CustomersV3.IdentificationNumber`, or created first.
 */

import { ClientError } from '../../net/errors.ts';
import { soqlString } from '../../salesforce/soql.ts';
import { findCustomerBySalesforceId, handleAccountEvent } from '../account/handler.ts';
import { ACCOUNT_QUERY_FIELDS, accountCreateEvent } from '../account/mapping.ts';
import { ACCOUNT_FLOW } from '../account/settings.ts';
import { d365Of, salesforceOf } from '../shared/clients.ts';
import type { FlowContext } from '../types.ts';
import { OrderRejection, rejectionMessage, type OrderRequest } from './mapping.ts';

/** The account's customer in the order's legal entity; null when D365 has none. */
async function findCustomer(
  context: FlowContext,
  request: Pick<OrderRequest, 'accountId' | 'legalEntity'>
): Promise<string | null> {
  const found = await findCustomerBySalesforceId(
    d365Of(context),
    request.accountId,
    request.legalEntity
  );
  return found?.CustomerAccount ?? null;
}

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
  const existing = await findCustomer(context, request);
  if (existing) return existing;
  const salesforce = salesforceOf(context);
  let account: Record<string, unknown> | undefined;
  for await (const row of salesforce.query<Record<string, unknown>>(
    `SELECT ${ACCOUNT_QUERY_FIELDS.join(', ')} FROM Account WHERE Id = ${soqlString(request.accountId)}`
  ))
    account = row;
  if (!account)
    throw new OrderRejection(
      rejectionMessage([`The opportunity's account ${request.accountId} no longer exists.`])
    );
  const number = account.D365_Customer_Number__c;
  // Synced since the opportunity was closed: the number is there now.
  if (typeof number === 'string' && number !== '') return number;
  await handleAccountEvent(
    accountCreateEvent(request.accountId, account, {
      idempotencyKey: `${request.accountId}:order:${request.opportunityId}`,
      legalEntity: request.legalEntity
    }),
    context
  );
  const created = await findCustomer(context, request);
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
