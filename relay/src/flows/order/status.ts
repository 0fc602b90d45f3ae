/**
 * Order status refresh. D365 masters a sales order's status after the relay created it (Backorder →
 * Delivered → Invoiced, or Canceled); this reads the status of every order the relay created whose
 * opportunity does not show a final one yet, and writes the changed ones back. Runs on
 * ORDER_STATUS_CRON and on demand (`d365-relay sync order`, `POST /api/v1/admin/sync/order`).
 */

import type { D365Client } from '../../d365/index.ts';
import { filter } from '../../d365/odata.ts';
import { ClientError } from '../../net/errors.ts';
import type { SalesforceClient } from '../../salesforce/index.ts';
import { d365Of, salesforceOf } from '../shared/clients.ts';
import type { FlowContext, FlowOutcome } from '../types.ts';
import { orderStatusField } from './mapping.ts';

/** Statuses after which D365 changes an order no more: their opportunities are not read again. */
const FINAL_STATUSES = ['Invoiced', 'Canceled'];
/** Opportunity ids per D365 query: 18 characters each, the URL stays well below D365's limits. */
const IDS_PER_QUERY = 50;

export interface OrderStatusReport {
  /** Opportunities with an order and no final status yet. */
  open: number;
  changed: number;
  failed: number;
}

interface OpenOpportunity {
  Id: string;
  D365_Order_Status__c: string | null;
}

export async function refreshOrderStatuses(deps: {
  d365: Pick<D365Client, 'query'>;
  salesforce: Pick<SalesforceClient, 'query' | 'collections'>;
}): Promise<OrderStatusReport> {
  const open: OpenOpportunity[] = [];
  for await (const row of deps.salesforce.query<OpenOpportunity>(
    `SELECT Id, D365_Order_Status__c FROM Opportunity WHERE D365_Sales_Order_Number__c != null AND D365_Order_Status__c NOT IN (${FINAL_STATUSES.map((s) => `'${s}'`).join(', ')})`
  ))
    open.push(row);
  const report: OrderStatusReport = { open: open.length, changed: 0, failed: 0 };

  // The relay stores the opportunity id on the order (CustomersOrderReference); any legal entity.
  const statusByOpportunity = new Map<string, string>();
  for (let start = 0; start < open.length; start += IDS_PER_QUERY) {
    const ids = open.slice(start, start + IDS_PER_QUERY).map((o) => o.Id);
    for await (const order of deps.d365.query<{
      CustomersOrderReference: string;
      SalesOrderStatus: string;
    }>('SalesOrderHeadersV2', {
      filter: filter.anyOf('CustomersOrderReference', ids),
      select: ['CustomersOrderReference', 'SalesOrderStatus'],
      crossCompany: true
    }))
      statusByOpportunity.set(order.CustomersOrderReference, order.SalesOrderStatus);
  }

  const updates = open.flatMap((opportunity) => {
    const status = statusByOpportunity.get(opportunity.Id);
    const field = status === undefined ? undefined : orderStatusField(status);
    return field !== undefined && field !== opportunity.D365_Order_Status__c
      ? [{ Id: opportunity.Id, D365_Order_Status__c: field }]
      : [];
  });
  if (updates.length === 0) return report;
  const results = await deps.salesforce.collections.update('Opportunity', updates);
  report.changed = results.filter((r) => r.success).length;
  report.failed = results.length - report.changed;
  if (report.changed === 0)
    throw new ClientError(
      `Salesforce refused every order status update: ${results[0]?.errors[0]?.message ?? 'no result'}`,
      { system: 'salesforce', kind: 'validation' }
    );
  return report;
}

export async function handleStatusRefresh(context: FlowContext): Promise<FlowOutcome> {
  const report = await refreshOrderStatuses({
    d365: d365Of(context),
    salesforce: salesforceOf(context)
  });
  context.logger.info(report, 'Order statuses refreshed');
  return { status: 'done' };
}
