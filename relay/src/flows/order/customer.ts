/**
 * The D365 customer of an opportunity's account when the order request carries no customer number:
 * found by the Salesforce account id stored in `CustomersV3.IdentificationNumber`, or created first.
 */

import type { D365Client } from '../../d365/index.ts';
import { filter } from '../../d365/index.ts';
import type { FlowContext } from '../types.ts';
import type { OrderRequest } from './mapping.ts';

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

/** Creates the customer of an account D365 does not know yet and returns its number. */
export type CustomerCreator = (request: OrderRequest, context: FlowContext) => Promise<string>;
