import type { Flow } from '../types.ts';
import { resolveCustomer } from './customer.ts';
import { ORDER_FLOW, createOrderHandler } from './handler.ts';
import { ORDER_REQUEST_TOPIC } from './mapping.ts';
import { isTriggeredRun } from '../shared/triggers.ts';
import { handleStatusRefresh } from './status.ts';

export { ORDER_FLOW } from './handler.ts';
export { ORDER_REQUEST_TOPIC, ORDER_REQUEST_FIELDS } from './mapping.ts';

const handleOrderRequest = createOrderHandler({ resolveCustomer });

/**
 * Closed Won opportunity (`D365_Order_Request__e`) → D365 sales order, header and lines; and, on
 * ORDER_STATUS_CRON or an operator's `sync order`, the orders' later statuses back (status.ts).
 */
export const orderFlow: Flow = {
  name: ORDER_FLOW,
  topics: [ORDER_REQUEST_TOPIC],
  handle: (payload, context) =>
    isTriggeredRun(payload) ? handleStatusRefresh(context) : handleOrderRequest(payload, context)
};
