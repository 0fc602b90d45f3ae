import type { Flow } from '../types.ts';
import { resolveCustomer } from './customer.ts';
import { ORDER_FLOW, createOrderHandler } from './handler.ts';
import { ORDER_REQUEST_TOPIC } from './mapping.ts';

export { ORDER_FLOW } from './handler.ts';
export { ORDER_REQUEST_TOPIC, ORDER_REQUEST_FIELDS } from './mapping.ts';

/** Closed Won opportunity (`D365_Order_Request__e`) → D365 sales order, header and lines. */
export const orderFlow: Flow = {
  name: ORDER_FLOW,
  topics: [ORDER_REQUEST_TOPIC],
  handle: createOrderHandler({ resolveCustomer })
};
