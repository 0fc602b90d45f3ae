/**
 * Closed Won opportunity → D365 sales order: pure mapping from the `D365_Order_Request__e` event
 * (built by force-app's `D365OrderService`) to the `SalesOrderHeadersV2` header and its
 * `SalesOrderLines`, and from the created order back to the opportunity's fields.
 */

/** The platform event that asks for a sales order, and its fields exactly as force-app defines them. */
export const ORDER_REQUEST_TOPIC = '/event/D365_Order_Request__e';
export const ORDER_REQUEST_FIELDS = [
  'Record_Id__c',
  'Idempotency_Key__c',
  'Account_Id__c',
  'Legal_Entity__c',
  'Payload__c'
] as const;

/**
 * Decimals D365 keeps for a sales quantity. D365 rounds a quantity to the decimal precision of its
 * unit (`UnitOfMeasure.DecimalPrecision`, "Decimal precision" on the Units page); 2 is the precision
 * of the units the released products use by default, and the connector rounds before sending so the
 * rep is told when a quantity changed instead of D365 rounding it silently.
 */
export const D365_QUANTITY_DECIMALS = 2;
/** D365 EDT sizes (SalesTable.SalesName is the party name, 100; SalesLine.Name is 1,000). */
export const D365_ORDER_NAME_MAX = 100;
export const D365_LINE_TEXT_MAX = 1000;
export const D365_ITEM_NUMBER_MAX = 20;
/** Salesforce `D365_Sync_Warning__c` is a Text Area(255); `D365_Sync_Result__e.Message__c` Text(255). */
export const SALESFORCE_WARNING_MAX = 255;
/** Salesforce record ids in the payload are the 18-character case-safe form. */
const SALESFORCE_ID = /^[a-zA-Z0-9]{18}$/;
const LEGAL_ENTITY = /^[A-Za-z0-9]{1,4}$/;
const CURRENCY = /^[A-Z]{3}$/;

export interface OrderRequestEvent {
  Record_Id__c: string;
  Idempotency_Key__c: string;
  Account_Id__c: string;
  Legal_Entity__c: string | null;
  Payload__c: string;
}

export interface OrderLinePayload {
  Id: string;
  Product2Id: string | null;
  ItemNumber: string;
  Quantity: number;
  UnitPrice: number | null;
  Description: string | null;
}

/** `Payload__c` as `D365OrderService.payloadOf` serialises it (docs/contracts.md). */
export interface OrderPayload {
  Opportunity: {
    Id: string;
    Name: string;
    CloseDate: string | null;
    CurrencyIsoCode: string | null;
    Amount: number | null;
  };
  Account: {
    Id: string;
    Name: string;
    D365_Customer_Number__c: string | null;
    D365_Legal_Entity__c: string | null;
  };
  Lines: OrderLinePayload[];
}

export interface OrderRequest {
  opportunityId: string;
  accountId: string;
  idempotencyKey: string;
  /** Lower case, as D365 returns `dataAreaId`. */
  legalEntity: string;
  payload: OrderPayload;
}

/**
 * An order request that cannot become a sales order as it is; the message is written on the
 * opportunity, in words a rep can act on, and the request is not retried.
 */
export class OrderRejection extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OrderRejection';
  }
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value : null;
}

function finite(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function record(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

/** Reads the event and its JSON payload; anything malformed is a rejection (a bug upstream, not retryable). */
export function parseOrderRequest(event: unknown, defaultLegalEntity: string): OrderRequest {
  const fields = record(event);
  if (!fields) throw new OrderRejection('The order request event is empty.');
  const opportunityId = text(fields.Record_Id__c);
  const idempotencyKey = text(fields.Idempotency_Key__c);
  if (!opportunityId || !SALESFORCE_ID.test(opportunityId))
    throw new OrderRejection('The order request has no valid opportunity id (Record_Id__c).');
  if (!idempotencyKey) throw new OrderRejection('The order request has no Idempotency_Key__c.');
  let raw: unknown;
  try {
    raw = JSON.parse(text(fields.Payload__c) ?? '');
  } catch {
    throw new OrderRejection('The order request payload (Payload__c) is not valid JSON.');
  }
  const payload = record(raw);
  const opportunity = record(payload?.Opportunity);
  const account = record(payload?.Account);
  if (!payload || !opportunity || !account || !Array.isArray(payload.Lines))
    throw new OrderRejection(
      'The order request payload needs Opportunity, Account and Lines (see docs/contracts.md).'
    );
  if (text(opportunity.Id) !== opportunityId)
    throw new OrderRejection('The order request payload is for a different opportunity.');
  const accountId = text(fields.Account_Id__c) ?? text(account.Id);
  if (!accountId || !SALESFORCE_ID.test(accountId))
    throw new OrderRejection('The order request has no valid account id.');
  const lines = payload.Lines.map((value, index): OrderLinePayload => {
    const line = record(value);
    const itemNumber = text(line?.ItemNumber);
    const quantity = finite(line?.Quantity);
    if (!line || !itemNumber || quantity === null)
      throw new OrderRejection(
        `Line ${index + 1} of the opportunity has no item number or quantity.`
      );
    return {
      Id: String(line.Id ?? ''),
      Product2Id: text(line.Product2Id),
      ItemNumber: itemNumber,
      Quantity: quantity,
      UnitPrice: finite(line.UnitPrice),
      Description: text(line.Description)
    };
  });
  if (lines.length === 0) throw new OrderRejection('The opportunity has no products to order.');
  const legalEntity =
    text(fields.Legal_Entity__c) ?? text(account.D365_Legal_Entity__c) ?? defaultLegalEntity;
  if (!LEGAL_ENTITY.test(legalEntity))
    throw new OrderRejection(
      `The D365 legal entity '${legalEntity}' is not valid: it is at most 4 letters or digits.`
    );
  return {
    opportunityId,
    accountId,
    idempotencyKey,
    legalEntity: legalEntity.toLowerCase(),
    payload: {
      Opportunity: {
        Id: opportunityId,
        Name: text(opportunity.Name) ?? opportunityId,
        CloseDate: text(opportunity.CloseDate),
        CurrencyIsoCode: text(opportunity.CurrencyIsoCode),
        Amount: finite(opportunity.Amount)
      },
      Account: {
        Id: accountId,
        Name: text(account.Name) ?? accountId,
        D365_Customer_Number__c: text(account.D365_Customer_Number__c),
        D365_Legal_Entity__c: text(account.D365_Legal_Entity__c)
      },
      Lines: lines
    }
  };
}

/** Rounds half away from zero to `decimals`, as D365's `decRound` does for positive quantities. */
export function roundQuantity(
  quantity: number,
  decimals = D365_QUANTITY_DECIMALS
): { value: number; rounded: boolean } {
  const factor = 10 ** decimals;
  // toPrecision removes binary noise (1.005 * 100 = 100.49999…) before rounding.
  const scaled = Number((Math.abs(quantity) * factor).toPrecision(15));
  const value = (Math.sign(quantity) * Math.round(scaled)) / factor;
  return { value: value === 0 ? 0 : value, rounded: value !== quantity };
}

/** Cuts a string to `max` characters; `cut` says whether anything was lost. */
export function truncate(value: string, max: number): { value: string; cut: boolean } {
  return value.length <= max ? { value, cut: false } : { value: value.slice(0, max), cut: true };
}

/** A released product as D365 stores it: the exact spelling of its item number. */
export interface ReleasedItem {
  itemNumber: string;
  productName?: string;
}

/**
 * Item numbers are matched exactly (Product2.D365_Item_Number__c is case-sensitive); D365 compares
 * them case-insensitively, so `released` holds what D365 found for each requested item, keyed by
 * the item number in upper case. Returns one sentence per line whose item D365 does not sell as
 * written.
 */
export function itemProblems(
  request: OrderRequest,
  released: ReadonlyMap<string, ReleasedItem>
): string[] {
  const problems: string[] = [];
  for (const line of request.payload.Lines) {
    const found = released.get(line.ItemNumber.toUpperCase());
    const name = line.Description ?? found?.productName;
    const product = name
      ? `Product '${name}' (item ${line.ItemNumber})`
      : `Item ${line.ItemNumber}`;
    if (line.ItemNumber.length > D365_ITEM_NUMBER_MAX) {
      problems.push(
        `${product} is longer than the ${D365_ITEM_NUMBER_MAX} characters D365 allows for an item number.`
      );
    } else if (!found) {
      problems.push(
        `${product} is not a released product in D365 legal entity ${request.legalEntity}. Check the item number's spelling and case.`
      );
    } else if (found.itemNumber !== line.ItemNumber) {
      problems.push(
        `${product} is not a released product in D365 legal entity ${request.legalEntity} (D365 has ${found.itemNumber}). Check the item number's spelling and case.`
      );
    }
  }
  return problems;
}

/** The message written on the opportunity when its order is refused. */
export function rejectionMessage(problems: readonly string[]): string {
  return `No D365 sales order was created. ${problems.join(' ')} Fix it, then move the opportunity out of Closed Won and back.`;
}

export interface SalesOrderDraft {
  header: Record<string, unknown>;
  lines: Record<string, unknown>[];
  /** Lossy transforms, for `D365_Sync_Warning__c`. */
  warnings: string[];
}

/** Maps a checked order request and the customer account it belongs to onto D365's entities. */
export function mapSalesOrder(request: OrderRequest, customerAccount: string): SalesOrderDraft {
  const { payload, legalEntity, opportunityId } = request;
  const warnings: string[] = [];
  const name = truncate(payload.Opportunity.Name, D365_ORDER_NAME_MAX);
  if (name.cut) warnings.push(`Order name cut to ${D365_ORDER_NAME_MAX} characters.`);
  const currency = payload.Opportunity.CurrencyIsoCode?.toUpperCase() ?? null;
  const header: Record<string, unknown> = {
    dataAreaId: legalEntity,
    OrderingCustomerAccountNumber: customerAccount,
    // How the relay finds the order again (docs/contracts.md): an 18-character id is unique even
    // under D365's case-insensitive comparison, because its last three characters encode the case.
    CustomersOrderReference: opportunityId,
    SalesOrderName: name.value
  };
  // Single-currency orgs send no currency: the order then takes the customer's currency in D365.
  if (currency && CURRENCY.test(currency)) header.CurrencyCode = currency;
  const lines = payload.Lines.map((line, index) => {
    const quantity = roundQuantity(line.Quantity);
    if (quantity.value <= 0)
      throw new OrderRejection(
        rejectionMessage([
          `Product '${line.Description ?? line.ItemNumber}' has quantity ${line.Quantity}; D365 needs a quantity of at least 0.01.`
        ])
      );
    if (quantity.rounded)
      warnings.push(
        `Line ${index + 1} (${line.ItemNumber}): quantity ${line.Quantity} rounded to ${quantity.value}.`
      );
    const body: Record<string, unknown> = {
      dataAreaId: legalEntity,
      ItemNumber: line.ItemNumber,
      OrderedSalesQuantity: quantity.value
    };
    // The price the rep agreed wins over D365's trade agreements; a line without one takes D365's.
    if (line.UnitPrice !== null) body.SalesPrice = line.UnitPrice;
    if (line.Description) {
      const description = truncate(line.Description, D365_LINE_TEXT_MAX);
      if (description.cut)
        warnings.push(`Line ${index + 1} description cut to ${D365_LINE_TEXT_MAX} characters.`);
      body.LineDescription = description.value;
    }
    if (header.CurrencyCode) body.CurrencyCode = header.CurrencyCode;
    return body;
  });
  return { header, lines, warnings };
}

/** Joins warnings into the 255 characters `D365_Sync_Warning__c` holds. */
export function warningText(warnings: readonly string[]): string | null {
  if (warnings.length === 0) return null;
  const joined = warnings.join(' ');
  return joined.length <= SALESFORCE_WARNING_MAX
    ? joined
    : `${joined.slice(0, SALESFORCE_WARNING_MAX - 1)}…`;
}

/** D365 `SalesStatus` values the opportunity's `D365_Order_Status__c` picklist holds. */
const ORDER_STATUSES: ReadonlySet<string> = new Set([
  'Backorder',
  'Delivered',
  'Invoiced',
  'Canceled'
]);

/** The opportunity's `D365_Order_Status__c` for a D365 `SalesStatus`; undefined when its picklist has no such value. */
export function orderStatusField(status: string): string | undefined {
  return ORDER_STATUSES.has(status) ? status : undefined;
}

export interface CreatedOrder {
  legalEntity: string;
  salesOrderNumber: string;
  status: string;
}

/** The opportunity fields written back once the order exists (all integration-owned). */
export function opportunityFieldsForOrder(
  order: CreatedOrder,
  warnings: readonly string[]
): Record<string, unknown> {
  return {
    D365_Sales_Order_Number__c: order.salesOrderNumber,
    D365_Order_Status__c: orderStatusField(order.status) ?? null,
    D365_Sync_Status__c: 'Synced',
    D365_Last_Sync_Error__c: null,
    D365_Sync_Warning__c: warningText(warnings)
  };
}

/** The opportunity fields written back when no order can be created. */
export function opportunityFieldsForError(message: string): Record<string, unknown> {
  return { D365_Sync_Status__c: 'Error', D365_Last_Sync_Error__c: message.slice(0, 4000) };
}

/** `D365_Sync_Result__e.D365_Key__c`: `<legal entity>|<sales order number>`. */
export function orderKey(order: Pick<CreatedOrder, 'legalEntity' | 'salesOrderNumber'>): string {
  return `${order.legalEntity}|${order.salesOrderNumber}`;
}
