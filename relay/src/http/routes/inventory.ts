import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { SystemClient } from '../../clients.ts';
import type { D365Client } from '../../d365/index.ts';
import {
  createInventoryLookup,
  InventoryUnavailableError,
  type InventoryLookup
} from '../../flows/inventory/lookup.ts';
import { InventoryRequestError, parseItemNumbers } from '../../flows/inventory/mapping.ts';
import { calloutAuth } from '../auth.ts';
import { withErrors } from '../schemas.ts';

export interface InventoryRouteOptions {
  calloutKey: string;
  d365: Pick<D365Client, 'query'>;
  defaultLegalEntity: string;
  cacheTtlMs: number;
  deadlineMs: number;
}

const SiteStock = Type.Object({
  siteId: Type.String(),
  warehouseId: Type.String(),
  available: Type.Number(),
  reserved: Type.Number(),
  ordered: Type.Number()
});

export const InventoryResponse = Type.Object({
  legalEntity: Type.String(),
  asOf: Type.String({ format: 'date-time' }),
  ageSeconds: Type.Integer({ minimum: 0 }),
  stale: Type.Boolean(),
  items: Type.Array(Type.Object({ itemNumber: Type.String(), sites: Type.Array(SiteStock) }))
});

export const InventoryQuery = Type.Object(
  {
    // 50 items of 20 characters and their commas; parseItemNumbers gives the rep-readable reasons.
    items: Type.String({ minLength: 1, maxLength: 2_000 }),
    legalEntity: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9]{1,4}$' }))
  },
  { additionalProperties: false }
);

/** True for a D365 client that can read entities (tests may inject a credential-check-only fake). */
export function readsD365(
  client: SystemClient
): client is SystemClient & Pick<D365Client, 'query'> {
  return typeof (client as Partial<D365Client>).query === 'function';
}

/** Error codes of this route besides the shared catalogue; the component shows the message. */
export const INVENTORY_ERROR_STATUS = {
  throttled: 503,
  timeout: 503,
  unavailable: 503,
  auth: 502
} as const;

/**
 * `GET /api/v1/inventory`: on-hand stock for `D365InventoryController` (Named Credential callout,
 * `X-Relay-Key`). Errors carry `{code, message}` with a message a rep can read.
 */
export const inventoryRoutes: FastifyPluginAsyncTypebox<
  InventoryRouteOptions & { lookup?: InventoryLookup }
> = async (fastify, options) => {
  await fastify.register(calloutAuth, { calloutKey: options.calloutKey });
  const lookup =
    options.lookup ??
    createInventoryLookup({
      d365: options.d365,
      cacheTtlMs: options.cacheTtlMs,
      deadlineMs: options.deadlineMs
    });

  fastify.get(
    '/inventory',
    {
      schema: {
        summary: 'On-hand stock per site and warehouse for 1 to 50 items (D365 WarehousesOnHandV2)',
        security: [{ relayKey: [] }],
        querystring: InventoryQuery,
        response: withErrors({ 200: InventoryResponse }, [401, 502, 503])
      }
    },
    async (request, reply) => {
      let items: string[];
      try {
        items = parseItemNumbers(request.query.items);
      } catch (error) {
        if (!(error instanceof InventoryRequestError)) throw error;
        return reply.code(400).send({
          code: 'RELAY_ERR_VALIDATION',
          message: error.message,
          correlationId: request.id
        });
      }
      const legalEntity = (request.query.legalEntity ?? options.defaultLegalEntity).toLowerCase();
      try {
        return await lookup.lookup(legalEntity, items);
      } catch (error) {
        if (!(error instanceof InventoryUnavailableError)) throw error;
        request.log.warn({ err: error.cause, failure: error.failure }, 'Inventory lookup failed');
        return reply.code(INVENTORY_ERROR_STATUS[error.failure]).send({
          code: `RELAY_ERR_D365_${error.failure.toUpperCase()}`,
          message: error.message,
          correlationId: request.id
        });
      }
    }
  );
};
