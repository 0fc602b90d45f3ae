import type { D365Client } from '../../d365/index.ts';
import type { SalesforceClient } from '../../salesforce/index.ts';
import type { FlowContext } from '../types.ts';

/**
 * The runtime types its clients as the narrow `/readyz` boundary; flows need the full clients the
 * factories build. Checked once here so a fake without the calls fails loudly, not deep in a mapping.
 */
export function salesforceOf(context: Pick<FlowContext, 'clients'>): SalesforceClient {
  const client = context.clients.salesforce as Partial<SalesforceClient>;
  if (typeof client.collections !== 'object' || typeof client.query !== 'function')
    throw new TypeError('The flow needs the full Salesforce client (collections, query)');
  return client as SalesforceClient;
}

export function d365Of(context: Pick<FlowContext, 'clients'>): D365Client {
  const client = context.clients.d365 as Partial<D365Client>;
  if (typeof client.create !== 'function' || typeof client.query !== 'function')
    throw new TypeError('The flow needs the full D365 client (create, query)');
  return client as D365Client;
}
