import { ClientError } from '../../net/errors.ts';
import { d365Of } from '../shared/clients.ts';
import type { Flow } from '../types.ts';
import { findCustomer } from './customer.ts';
import { ORDER_FLOW, createOrderHandler } from './handler.ts';
import { ORDER_REQUEST_TOPIC } from './mapping.ts';

export { ORDER_FLOW } from './handler.ts';
export { ORDER_REQUEST_TOPIC, ORDER_REQUEST_FIELDS } from './mapping.ts';

/** Closed Won opportunity (`D365_Order_Request__e`) → D365 sales order, header and lines. */
export const orderFlow: Flow = {
  name: ORDER_FLOW,
  topics: [ORDER_REQUEST_TOPIC],
  handle: createOrderHandler({
    async resolveCustomer(request, context) {
      const customer = await findCustomer(d365Of(context), request);
      if (customer) return customer;
      throw new ClientError(
        `Account ${request.accountId} is not yet a D365 customer in ${request.legalEntity}`,
        { system: 'd365', kind: 'transient', code: 'CUSTOMER_PENDING' }
      );
    }
  })
};
