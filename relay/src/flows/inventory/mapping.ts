import { filter, type Filter } from '../../d365/odata.ts';

/** The package asks for 1 to 50 items per lookup (docs/contracts.md, GET /api/v1/inventory). */
export const MAX_ITEMS_PER_LOOKUP = 50;
/** Length of `Product2.D365_Item_Number__c` (Text 20), the longest item number the package stores. */
export const MAX_ITEM_NUMBER_LENGTH = 20;

/** The D365 entity and the fields the lookup reads (InventWarehouseOnHandV2Entity). */
export const ON_HAND_ENTITY = 'WarehousesOnHandV2';
export const ON_HAND_FIELDS = [
  'dataAreaId',
  'ItemNumber',
  'InventorySiteId',
  'InventoryWarehouseId',
  'AvailableOnHandQuantity',
  'ReservedOnHandQuantity',
  'OrderedQuantity'
] as const;

export interface OnHandRow {
  dataAreaId: string;
  ItemNumber: string;
  InventorySiteId: string;
  InventoryWarehouseId: string;
  AvailableOnHandQuantity: number;
  ReservedOnHandQuantity: number;
  OrderedQuantity: number;
}

export interface SiteStock {
  siteId: string;
  warehouseId: string;
  available: number;
  reserved: number;
  ordered: number;
}

export interface ItemStock {
  itemNumber: string;
  sites: SiteStock[];
}

/** A lookup the relay refuses; the message is shown to the rep as is. */
export class InventoryRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InventoryRequestError';
  }
}

/**
 * Splits `items=A,B` into item numbers: trimmed, blanks and repeats dropped, the rep's order kept
 * (as the Apex controller does). Item numbers are case-sensitive, so `a1` and `A1` are two items.
 */
export function parseItemNumbers(raw: string): string[] {
  const items: string[] = [];
  const seen = new Set<string>();
  for (const part of raw.split(',')) {
    const item = part.trim();
    if (item === '' || seen.has(item)) continue;
    if (item.length > MAX_ITEM_NUMBER_LENGTH) {
      throw new InventoryRequestError(
        `"${item.slice(0, MAX_ITEM_NUMBER_LENGTH)}…" is not a D365 item number: item numbers have at most ${MAX_ITEM_NUMBER_LENGTH} characters.`
      );
    }
    if (item.includes('*')) {
      // D365 reads * in a string comparison as a wildcard with no escape, so the lookup would widen.
      throw new InventoryRequestError(`"${item}" is not a D365 item number: it contains "*".`);
    }
    seen.add(item);
    items.push(item);
  }
  if (items.length === 0)
    throw new InventoryRequestError('Choose or type at least one D365 item number.');
  if (items.length > MAX_ITEMS_PER_LOOKUP) {
    throw new InventoryRequestError(
      `You can look up at most ${MAX_ITEMS_PER_LOOKUP} items at once; you asked for ${items.length}.`
    );
  }
  return items;
}

/** One OData filter for all items of a lookup: values are quoted literals, never spliced text. */
export function onHandFilter(legalEntity: string, items: readonly string[]): Filter {
  return filter.and(filter.eq('dataAreaId', legalEntity), filter.anyOf('ItemNumber', items));
}

/**
 * Stock per requested item, in request order, one entry per site and warehouse. Lossy on purpose:
 * - rows of the same site and warehouse with different product dimensions (colour, size, …) are
 *   summed, because the component shows stock per site and warehouse;
 * - D365 compares item numbers case-insensitively (SQL collation) but item keys are case-sensitive,
 *   so rows whose item number differs in case from the one asked for are dropped;
 * - quantities are rounded to 6 decimals to undo floating-point noise from the sums.
 * Items without rows get an empty `sites` list (no stock anywhere, or unknown in D365).
 */
export function toItemStock(items: readonly string[], rows: readonly OnHandRow[]): ItemStock[] {
  const byItem = new Map<string, Map<string, SiteStock>>(items.map((item) => [item, new Map()]));
  for (const row of rows) {
    const sites = byItem.get(row.ItemNumber);
    if (!sites) continue;
    const key = `${row.InventorySiteId}\u0000${row.InventoryWarehouseId}`;
    const site = sites.get(key) ?? {
      siteId: row.InventorySiteId,
      warehouseId: row.InventoryWarehouseId,
      available: 0,
      reserved: 0,
      ordered: 0
    };
    site.available = round(site.available + Number(row.AvailableOnHandQuantity));
    site.reserved = round(site.reserved + Number(row.ReservedOnHandQuantity));
    site.ordered = round(site.ordered + Number(row.OrderedQuantity));
    sites.set(key, site);
  }
  return items.map((itemNumber) => ({
    itemNumber,
    sites: [...(byItem.get(itemNumber)?.values() ?? [])].sort(
      (a, b) => a.siteId.localeCompare(b.siteId) || a.warehouseId.localeCompare(b.warehouseId)
    )
  }));
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
