/**
 * Closed Won opportunity → D365 sales order, created at most once.
 *
 * The opportunity id is stored on the order (`CustomersOrderReference`) and looked up before
 * anything is created, and header and lines go to D365 in one atomic `$batch` changeset. So a
 * duplicate event, a retry, or a crash between creating the order and writing its number back all
 * end in the lookup finding the order and only the write-back being repeated.
 */

import type { D365Client } from '../../d365/index.ts';
import { filter } from '../../d365/odata.ts';
import { PermanentFlowError } from '../../errors.ts';
import { ClientError, isClientError } from '../../net/errors.ts';
import type { LedgerStatus } from '../../store/types.ts';
import { d365Of, salesforceOf } from '../shared/clients.ts';
import { writeBackError, writeBackFor } from '../shared/writeback.ts';
import type { FlowContext, FlowOutcome } from '../types.ts';
import {
  OrderRejection,
  type CreatedOrder,
  type OrderRequest,
  type ReleasedItem,
  itemProblems,
  mapSalesOrder,
  opportunityFieldsForError,
  opportunityFieldsForOrder,
  orderKey,
  parseOrderRequest,
  rejectionMessage
} from './mapping.ts';

export const ORDER_FLOW = 'order';
/** Used when neither the event, the account nor the configuration names a legal entity. */
const FALLBACK_LEGAL_ENTITY = 'usmf';
/**
 * One opportunity's order is made by one job at a time (two events for one opportunity, several
 * replicas): a named store lease, held by the job, so the same job re-takes it at once after a
 * crash while any other job waits for it to expire.
 */
const OPPORTUNITY_LEASE_TTL_MS = 120_000;
/** A released product's exact spelling is trusted this long before D365 is asked again. */
const ITEM_CACHE_TTL_MS = 5 * 60_000;
/**
 * Items per ReleasedProductsV2 lookup: keeps each URL short. IIS, which serves D365, allows a
 * 2,048-byte query string by default (whether D365 raises it is unconfirmed); 20 items stay far below.
 */
const ITEMS_PER_LOOKUP = 20;

interface ExistingOrder {
  dataAreaId: string;
  SalesOrderNumber: string;
  SalesOrderStatus: string;
  OrderingCustomerAccountNumber: string;
}

/** Finds (or creates) the D365 customer of an account that has no customer number in the payload. */
export type CustomerResolver = (request: OrderRequest, context: FlowContext) => Promise<string>;

export interface OrderHandlerOptions {
  resolveCustomer: CustomerResolver;
  now?: () => number;
}

/** Retried with the relay's backoff: another job holds the opportunity's lease. */
class OrderBusy extends Error {
  constructor(opportunityId: string) {
    super(`Another job is creating the sales order of opportunity ${opportunityId}`);
    this.name = 'OrderBusy';
  }
}

export function createOrderHandler(options: OrderHandlerOptions) {
  const now = options.now ?? Date.now;
  const items = new Map<string, { item: ReleasedItem; expires: number }>();

  async function releasedItems(
    d365: D365Client,
    request: OrderRequest
  ): Promise<Map<string, ReleasedItem>> {
    const found = new Map<string, ReleasedItem>();
    const missing = new Set<string>();
    for (const line of request.payload.Lines) {
      const upper = line.ItemNumber.toUpperCase();
      const cached = items.get(`${request.legalEntity}|${upper}`);
      if (cached && cached.expires > now()) found.set(upper, cached.item);
      // D365 reads * in a filter as a wildcard: such an item can never match exactly.
      else if (!line.ItemNumber.includes('*')) missing.add(line.ItemNumber);
    }
    if (missing.size === 0) return found;
    // D365 compares item numbers case-insensitively, so this returns the stored spelling to compare.
    const wanted = [...missing];
    for (let start = 0; start < wanted.length; start += ITEMS_PER_LOOKUP) {
      for await (const row of d365.query<{ ItemNumber: string; ProductName: string }>(
        'ReleasedProductsV2',
        {
          filter: filter.and(
            filter.eq('dataAreaId', request.legalEntity),
            filter.anyOf('ItemNumber', wanted.slice(start, start + ITEMS_PER_LOOKUP))
          ),
          select: ['ItemNumber', 'ProductName'],
          crossCompany: true
        }
      )) {
        const item = { itemNumber: row.ItemNumber, productName: row.ProductName };
        found.set(row.ItemNumber.toUpperCase(), item);
        items.set(`${request.legalEntity}|${row.ItemNumber.toUpperCase()}`, {
          item,
          expires: now() + ITEM_CACHE_TTL_MS
        });
      }
    }
    return found;
  }

  async function findOrder(d365: D365Client, opportunityId: string): Promise<ExistingOrder | null> {
    for await (const row of d365.query<ExistingOrder>('SalesOrderHeadersV2', {
      filter: filter.eq('CustomersOrderReference', opportunityId),
      select: [
        'dataAreaId',
        'SalesOrderNumber',
        'SalesOrderStatus',
        'OrderingCustomerAccountNumber'
      ],
      top: 1,
      // The order may be in any legal entity (the routing field can change after it was created).
      crossCompany: true
    }))
      return row;
    return null;
  }

  /** One changeset: the header (Content-ID 1) and its lines through `$1/SalesOrderLines`. */
  async function createOrder(
    d365: D365Client,
    header: Record<string, unknown>,
    lines: Record<string, unknown>[]
  ): Promise<CreatedOrder> {
    const [result] = await d365.batch([
      [
        { method: 'POST', path: 'SalesOrderHeadersV2', body: header },
        ...lines.map((body) => ({ method: 'POST' as const, path: '$1/SalesOrderLines', body }))
      ]
    ]);
    if (!result || result.kind !== 'changeset')
      throw new ClientError('D365 answered the order $batch without its changeset', {
        system: 'd365',
        kind: 'transient'
      });
    if (!result.ok) {
      const failed = result.responses.find((r) => r.error);
      throw (
        failed?.error ??
        new ClientError('D365 refused the order changeset', { system: 'd365', kind: 'transient' })
      );
    }
    const created = (result.responses[0]?.body ?? {}) as Partial<ExistingOrder>;
    if (!created.SalesOrderNumber)
      throw new ClientError('D365 created the order but returned no sales order number', {
        system: 'd365',
        kind: 'transient'
      });
    return {
      legalEntity: String(created.dataAreaId ?? header.dataAreaId).toLowerCase(),
      salesOrderNumber: created.SalesOrderNumber,
      status: created.SalesOrderStatus ?? 'Backorder'
    };
  }

  async function record(
    context: FlowContext,
    request: OrderRequest,
    status: LedgerStatus,
    fields: Record<string, unknown>,
    result: { message?: string; d365Key?: string }
  ): Promise<void> {
    const writeBack = writeBackFor(salesforceOf(context), { logger: context.logger });
    const written = await writeBack.write({
      sobject: 'Opportunity',
      id: request.opportunityId,
      fields,
      event: {
        recordId: request.opportunityId,
        idempotencyKey: request.idempotencyKey,
        flow: ORDER_FLOW,
        status: status === 'Synced' ? 'Synced' : 'Error',
        ...(result.message !== undefined ? { message: result.message } : {}),
        ...(result.d365Key !== undefined ? { d365Key: result.d365Key } : {})
      }
    });
    await context.store.upsertLedger({
      flow: ORDER_FLOW,
      recordKey: request.opportunityId,
      salesforceId: request.opportunityId,
      d365Key: result.d365Key ?? null,
      lastStatus: status,
      lastError: status === 'Synced' ? null : (result.message ?? null),
      contentHash: null,
      correlationId: context.correlationId
    });
    if (!written.success) throw writeBackError(written, `opportunity ${request.opportunityId}`);
  }

  async function reject(
    context: FlowContext,
    request: OrderRequest,
    message: string
  ): Promise<FlowOutcome> {
    await record(context, request, 'Error', opportunityFieldsForError(message), { message });
    return { status: 'skipped', reason: message };
  }

  async function run(context: FlowContext, request: OrderRequest): Promise<FlowOutcome> {
    const d365 = d365Of(context);
    const existing = await findOrder(d365, request.opportunityId);
    let order: CreatedOrder;
    let warnings: string[];
    if (existing) {
      order = {
        legalEntity: existing.dataAreaId.toLowerCase(),
        salesOrderNumber: existing.SalesOrderNumber,
        status: existing.SalesOrderStatus
      };
      // The mapping is deterministic: the warnings are those of the run that created the order.
      warnings = mapSalesOrder(request, existing.OrderingCustomerAccountNumber).warnings;
      context.logger.info(
        { salesOrder: orderKey(order) },
        'Sales order already exists; writing it back'
      );
    } else {
      const released = await releasedItems(d365, request);
      const problems = itemProblems(request, released);
      if (problems.length > 0) return reject(context, request, rejectionMessage(problems));
      const customer =
        request.payload.Account.D365_Customer_Number__c ??
        (await options.resolveCustomer(request, context));
      const draft = mapSalesOrder(request, customer);
      warnings = draft.warnings;
      try {
        order = await createOrder(d365, draft.header, draft.lines);
      } catch (error) {
        // D365 validation (blocked item, customer on hold, …): retrying gives the same answer.
        if (isClientError(error) && !error.retryable && error.kind !== 'auth')
          return reject(context, request, d365Rejection(error));
        throw error;
      }
      context.logger.info({ salesOrder: orderKey(order) }, 'Sales order created');
    }
    await record(context, request, 'Synced', opportunityFieldsForOrder(order, warnings), {
      d365Key: orderKey(order),
      ...(warnings.length > 0 ? { message: warnings.join(' ') } : {})
    });
    return { status: 'done' };
  }

  return async function handle(payload: unknown, context: FlowContext): Promise<FlowOutcome> {
    const defaultLegalEntity = context.config?.D365_DEFAULT_LEGAL_ENTITY ?? FALLBACK_LEGAL_ENTITY;
    let request: OrderRequest;
    try {
      request = parseOrderRequest(payload, defaultLegalEntity);
    } catch (error) {
      // Without a readable request there is no opportunity to show the error on: dead-letter it.
      if (error instanceof OrderRejection) throw new PermanentFlowError(error.message);
      throw error;
    }
    const lease = `order:${request.opportunityId}`;
    const holder = `order-job:${context.jobId}`;
    if (!(await context.store.acquireLease(lease, holder, OPPORTUNITY_LEASE_TTL_MS)))
      throw new OrderBusy(request.opportunityId);
    try {
      return await run(context, request);
    } catch (error) {
      if (error instanceof OrderRejection) return reject(context, request, error.message);
      // The job ends here (dead-lettered): the rep must hear it from the opportunity.
      const final = isClientError(error) && !error.retryable;
      if (final || context.attempt >= context.maxAttempts) await giveUp(context, request, error);
      throw error;
    } finally {
      await context.store.releaseLease(lease, holder);
    }
  };

  /** The job is about to be dead-lettered: record why on the opportunity. */
  async function giveUp(context: FlowContext, request: OrderRequest, error: unknown) {
    const reason = (error instanceof Error ? error.message : String(error)).slice(0, 300);
    const message = `No D365 sales order was created yet: the relay gave up after ${context.attempt} attempt(s) (${reason}). Your admin can send it again from the relay's dead-letter queue.`;
    await reject(context, request, message).catch((writeFailure: unknown) =>
      context.logger.warn({ err: writeFailure }, 'Could not record the failure on the opportunity')
    );
  }
}

/** Words a rep can act on for a D365 validation failure (the Infolog text is kept). */
function d365Rejection(error: ClientError): string {
  const detail = error.message.replace(/^D365 [^:]*failed \(\d+\): /, '');
  return rejectionMessage([`D365 refused the order: ${detail}`]);
}
