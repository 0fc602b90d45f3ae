/**
 * Products and prices, D365 → Salesforce: pure mapping from released products and trade agreements
 * to `Product2` and `PricebookEntry` rows, with every lossy step reported as a warning.
 */

import { createHash } from 'node:crypto';

/** Product2.Name is Text(255) (Salesforce Product2 reference). */
export const PRODUCT_NAME_MAX = 255;
/** Product2.Description is Text Area(4000). */
export const PRODUCT_DESCRIPTION_MAX = 4000;
/** PricebookEntry.UnitPrice is Currency(18,2) in the standard object model. */
export const UNIT_PRICE_SCALE = 2;
/** PricebookEntry.D365_Price_Key__c is Text(100) (docs/contracts.md). */
export const PRICE_KEY_MAX = 100;
/** Price book key of the standard price book in `D365_Price_Key__c` (docs/contracts.md). */
export const STANDARD_BOOK_KEY = 'STANDARD';

/** The ReleasedProductsV2 fields the flow reads. */
export const PRODUCT_SELECT = [
  'ItemNumber',
  'ProductName',
  'SearchName',
  'SalesPrice',
  'SalesPriceQuantity',
  'SalesUnitSymbol',
  'IsSalesBlocked'
] as const;

/** The SalesPriceAgreements fields the flow reads. */
export const AGREEMENT_SELECT = [
  'ItemNumber',
  'PriceCustomerGroupCode',
  'PriceCustomerGroupId',
  'Price',
  'PriceCurrencyCode',
  'SalesPriceQuantity',
  'FromQuantity',
  'PriceApplicableFromDate',
  'PriceApplicableToDate',
  'PriceSiteId',
  'PriceWarehouseId'
] as const;

export type D365Product = Partial<Record<(typeof PRODUCT_SELECT)[number], unknown>>;
export type D365Agreement = Partial<Record<(typeof AGREEMENT_SELECT)[number], unknown>>;

export interface ProductSettings {
  /** ISO codes; the first is the currency of the base price (the legal entity's accounting currency). */
  currencies: readonly string[];
  /** The configured price book's name; null = standard price book only. */
  priceBookName: string | null;
  /** D365 price groups in priority order; their agreements win over `All` agreements. */
  priceGroups: readonly string[];
  /** D365 unit symbol (lower case) → Salesforce `QuantityUnitOfMeasure` value. */
  unitMap: Readonly<Record<string, string>>;
  /** Send `CurrencyIsoCode` on new entries (multi-currency orgs only; single-currency orgs lack the field). */
  multiCurrency: boolean;
}

export interface MappedProduct {
  itemNumber: string;
  /** Product2 fields, keyed for an upsert by `D365_Item_Number__c`. */
  fields: Record<string, string | boolean | null>;
  warnings: string[];
  hash: string;
}

export interface MappedPrice {
  /** `D365_Price_Key__c`: `<book key>|<item number>|<currency>`. */
  key: string;
  book: 'standard' | 'custom';
  itemNumber: string;
  currency: string;
  unitPrice: number;
  warnings: string[];
  hash: string;
}

const text = (value: unknown): string => (typeof value === 'string' ? value : '');
const num = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) ? value : null;

/** Truncates to `max` characters, never splitting a surrogate pair. */
export function truncate(value: string, max: number): { value: string; truncated: boolean } {
  const chars = [...value];
  if (chars.length <= max) return { value, truncated: false };
  return { value: chars.slice(0, max).join(''), truncated: true };
}

/** Rounds half away from zero to `scale` decimals (Salesforce rounds currency input the same way). */
export function roundPrice(value: number, scale = UNIT_PRICE_SCALE): number {
  const factor = 10 ** scale;
  const scaled = Math.abs(value) * factor;
  // The epsilon absorbs binary representation error, e.g. 1.005 * 100 = 100.49999999999999.
  const rounded = Math.round(scaled + Number.EPSILON * scaled * 4) / factor;
  return Math.sign(value) * rounded || 0;
}

/** Stable SHA-256 of a JSON value with sorted keys (the ledger's content hash). */
export function contentHash(value: unknown): string {
  const stable = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(stable);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v as object)
          .sort()
          .map((k) => [k, stable((v as Record<string, unknown>)[k])])
      );
    }
    return v;
  };
  return createHash('sha256')
    .update(JSON.stringify(stable(value)))
    .digest('base64url');
}

export function priceKey(bookKey: string, itemNumber: string, currency: string): string {
  return `${bookKey}|${itemNumber}|${currency}`;
}

/** Released product → Product2 fields. The item number is kept exactly (case-sensitive key). */
export function mapProduct(product: D365Product, settings: ProductSettings): MappedProduct {
  const itemNumber = text(product.ItemNumber);
  const warnings: string[] = [];
  let name = text(product.ProductName).trim();
  if (!name) {
    name = itemNumber;
    warnings.push('no product name in D365: the item number is used as the name');
  }
  const shortName = truncate(name, PRODUCT_NAME_MAX);
  if (shortName.truncated) warnings.push(`name truncated to ${PRODUCT_NAME_MAX} characters`);
  // Control characters other than line breaks are not valid in a text area; CR LF becomes LF.
  const description = text(product.SearchName)
    .replace(/\r\n?/g, '\n')
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '')
    .trim();
  const shortDescription = truncate(description, PRODUCT_DESCRIPTION_MAX);
  if (shortDescription.truncated)
    warnings.push(`description truncated to ${PRODUCT_DESCRIPTION_MAX} characters`);
  const unitSymbol = text(product.SalesUnitSymbol).trim();
  let unit: string | null = null;
  if (unitSymbol) {
    unit = settings.unitMap[unitSymbol.toLowerCase()] ?? null;
    if (unit === null)
      warnings.push(`unit ${unitSymbol} has no Salesforce unit of measure: left blank`);
  }
  const fields = {
    D365_Item_Number__c: itemNumber,
    Name: shortName.value,
    ProductCode: itemNumber,
    Description: shortDescription.value || null,
    IsActive: text(product.IsSalesBlocked) !== 'Yes',
    QuantityUnitOfMeasure: unit
  };
  return { itemNumber, fields, warnings, hash: contentHash(fields) };
}

/** Product2 fields that deactivate a product gone from D365 (kept, never deleted). */
export function deactivation(itemNumber: string): Record<string, string | boolean> {
  return { D365_Item_Number__c: itemNumber, IsActive: false };
}
export const DEACTIVATED_HASH = contentHash({ deactivated: true });

function isoDay(value: unknown): string | null {
  const day = text(value).slice(0, 10);
  // D365 writes an empty date as 1900-01-01 (reference d365-fo.md): no bound.
  return /^\d{4}-\d{2}-\d{2}$/.test(day) && day !== '1900-01-01' ? day : null;
}

/** Price per one unit: D365 prices may be per `SalesPriceQuantity` units (e.g. per 100). */
function unitPriceOf(price: number, perQuantity: unknown, warnings: string[]): number {
  const quantity = num(perQuantity);
  const per = quantity !== null && quantity > 0 ? quantity : 1;
  const exact = price / per;
  const rounded = roundPrice(exact);
  if (per !== 1) warnings.push(`price ${price} per ${per} units converted to ${rounded} per unit`);
  else if (rounded !== exact) warnings.push(`price ${exact} rounded to ${rounded}`);
  return rounded;
}

/**
 * The agreement price that applies to quantity 1 today, for everyone in a price group: configured
 * groups in their order, then `All`. Customer-specific (`Table`), quantity-break (FromQuantity > 1),
 * site- or warehouse-bound and out-of-date agreements do not describe a list price and are ignored.
 */
export function agreementPrice(
  agreements: readonly D365Agreement[],
  currency: string,
  settings: Pick<ProductSettings, 'priceGroups'>,
  today: string
): D365Agreement | null {
  const candidates = agreements.filter((a) => {
    if (text(a.PriceCurrencyCode).toUpperCase() !== currency) return false;
    if (num(a.Price) === null) return false;
    if ((num(a.FromQuantity) ?? 0) > 1) return false;
    if (text(a.PriceSiteId) || text(a.PriceWarehouseId)) return false;
    const from = isoDay(a.PriceApplicableFromDate);
    const to = isoDay(a.PriceApplicableToDate);
    if ((from && from > today) || (to && to < today)) return false;
    return true;
  });
  const rank = (a: D365Agreement): number => {
    const code = text(a.PriceCustomerGroupCode);
    if (code === 'GroupId') {
      const index = settings.priceGroups.findIndex(
        (g) => g.toLowerCase() === text(a.PriceCustomerGroupId).toLowerCase()
      );
      return index;
    }
    return code === 'All' ? settings.priceGroups.length : -1;
  };
  let best: D365Agreement | null = null;
  let bestRank = Infinity;
  for (const candidate of candidates) {
    const r = rank(candidate);
    if (r >= 0 && r < bestRank) {
      best = candidate;
      bestRank = r;
    }
  }
  return best;
}

/**
 * Price book entries of one product, per configured currency: the standard price book carries the
 * base price (or, in a currency without one, the agreement price, since Salesforce needs a standard
 * price first); the configured book carries the agreement price, else the base price.
 */
export function mapPrices(
  product: D365Product,
  agreements: readonly D365Agreement[],
  settings: ProductSettings,
  today: string
): MappedPrice[] {
  const itemNumber = text(product.ItemNumber);
  const entries: MappedPrice[] = [];
  settings.currencies.forEach((currency, index) => {
    const baseWarnings: string[] = [];
    const basePrice = num(product.SalesPrice);
    const base =
      index === 0 && basePrice !== null
        ? unitPriceOf(basePrice, product.SalesPriceQuantity, baseWarnings)
        : null;
    const agreementWarnings: string[] = [];
    const agreement = agreementPrice(agreements, currency, settings, today);
    const agreed =
      agreement !== null
        ? unitPriceOf(
            num(agreement.Price) as number,
            agreement.SalesPriceQuantity,
            agreementWarnings
          )
        : null;
    const standard = base ?? agreed;
    if (standard === null) return;
    const add = (book: 'standard' | 'custom', bookKey: string, unitPrice: number, w: string[]) => {
      const key = priceKey(bookKey, itemNumber, currency);
      entries.push({
        key,
        book,
        itemNumber,
        currency,
        unitPrice,
        warnings: w,
        hash: contentHash({ unitPrice, active: true })
      });
    };
    add('standard', STANDARD_BOOK_KEY, standard, base !== null ? baseWarnings : agreementWarnings);
    if (settings.priceBookName !== null) {
      const custom = agreed ?? base;
      add(
        'custom',
        settings.priceBookName,
        custom as number,
        agreed !== null ? agreementWarnings : baseWarnings
      );
    }
  });
  return entries;
}

/** A key that does not fit `D365_Price_Key__c` (long price book name and item number). */
export function priceKeyTooLong(key: string): boolean {
  return [...key].length > PRICE_KEY_MAX;
}

/** `ea=Each,pcs=Each` → `{ ea: 'Each', pcs: 'Each' }` (symbols lower-cased: D365 compares them case-insensitively). */
export function parseUnitMap(value: string): Record<string, string> {
  const map: Record<string, string> = {};
  for (const pair of value.split(',')) {
    const [symbol, unit] = pair.split('=').map((part) => part.trim());
    if (symbol && unit) map[symbol.toLowerCase()] = unit;
  }
  return map;
}

/** Comma-separated list, trimmed, empty items dropped. */
export function parseList(value: string): string[] {
  return value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
}

/** A PricebookEntry row for an upsert by `D365_Price_Key__c`; the price book and product only on create. */
export function priceRecord(
  price: MappedPrice,
  create: { pricebookId: string; multiCurrency: boolean } | null
): Record<string, string | number | boolean> {
  const row: Record<string, string | number | boolean> = {
    D365_Price_Key__c: price.key,
    UnitPrice: price.unitPrice,
    IsActive: true
  };
  if (create) {
    row.Pricebook2Id = create.pricebookId;
    // Relationship by External ID: no Product2 Id lookup needed, in Collections and Bulk alike.
    row['Product2.D365_Item_Number__c'] = price.itemNumber;
    if (create.multiCurrency) row.CurrencyIsoCode = price.currency;
  }
  return row;
}
