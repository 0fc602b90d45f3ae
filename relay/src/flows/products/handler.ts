/**
 * Products and prices sync run: reads released products and trade agreements from D365, sends only
 * what changed since the last run (content hashes in the ledger) to Salesforce, and deactivates
 * products gone from D365. Few large calls: sObject Collections for small change sets, one Bulk API
 * 2.0 job per object for large ones.
 */

import type { Logger } from 'pino';
import type { ConfigValues } from '../../config/schema.ts';
import type { D365Client } from '../../d365/index.ts';
import { filter } from '../../d365/odata.ts';
import { PermanentFlowError } from '../../errors.ts';
import { ClientError } from '../../net/errors.ts';
import type { SalesforceClient } from '../../salesforce/index.ts';
import { soqlList, soqlString } from '../../salesforce/soql.ts';
import type { LedgerEntry, LedgerUpdate, Store } from '../../store/types.ts';
import { d365Of, salesforceOf } from '../shared/clients.ts';
import type { FlowContext, FlowOutcome } from '../types.ts';
import {
  AGREEMENT_SELECT,
  DEACTIVATED_HASH,
  PRODUCT_SELECT,
  deactivation,
  mapPrices,
  mapProduct,
  parseList,
  parseUnitMap,
  priceKeyTooLong,
  priceRecord,
  type D365Agreement,
  type D365Product,
  type MappedPrice,
  type ProductSettings
} from './mapping.ts';

export const PRODUCTS_FLOW = 'products';
const PRODUCT_KEY_FIELD = 'D365_Item_Number__c';
const PRICE_KEY_FIELD = 'D365_Price_Key__c';
/** Ledger rows are read in one query; far above any catalogue this flow is meant for. */
const LEDGER_READ_LIMIT = 10_000_000;
const LEDGER_WRITE_CHUNK = 500;
/** One run at a time across replicas; the TTL frees the lease of a run whose process died. */
const RUN_LEASE = 'flow:products';
const RUN_LEASE_TTL_MS = 30 * 60_000;
/**
 * Wait before the first Bulk status poll, per row: each poll is an API call, and a job is rarely done
 * at once. Tuned so a 10,000-row job is polled about once (the emulator and a quiet org).
 */
const BULK_POLL_DELAY_PER_ROW_MS = 0.08;
const BULK_POLL_DELAY_MIN_MS = 200;
/** Record errors a second pass can fix: sent as new but exists / sent as existing but gone / order. */
const RESEND_AS_EXISTING = 'INVALID_FIELD_FOR_INSERT_UPDATE';
const RESEND_AS_NEW = 'REQUIRED_FIELD_MISSING';
const RESEND_LATER = 'STANDARD_PRICE_NOT_DEFINED';
/** Salesforce's error for a second entry of one product in one price book. */
const DUPLICATE_ENTRY = 'DUPLICATE_VALUE';
/** Item numbers per adoption query: keeps the SOQL well under its 100,000-character limit. */
const ADOPT_QUERY_CHUNK = 500;

export interface ProductSyncSettings extends ProductSettings {
  legalEntity: string;
  bulkThreshold: number;
}

/** The flow's settings from the relay configuration (defaults as in the schema). */
export function productSyncSettings(config: Partial<ConfigValues> = {}): ProductSyncSettings {
  const currencies = parseList(config.PRODUCTS_CURRENCIES ?? 'USD');
  const multiCurrency = config.PRODUCTS_MULTI_CURRENCY ?? false;
  if (currencies.length === 0)
    throw new PermanentFlowError('PRODUCTS_CURRENCIES names no currency');
  if (!multiCurrency && currencies.length > 1) {
    // A single-currency org holds one entry per price book and product: a second currency would collide.
    throw new PermanentFlowError(
      'PRODUCTS_CURRENCIES lists several currencies but PRODUCTS_MULTI_CURRENCY is false'
    );
  }
  const book = (config.PRODUCTS_PRICE_BOOK ?? 'D365 Prices').trim();
  return {
    legalEntity: (
      config.PRODUCTS_LEGAL_ENTITY ??
      config.D365_DEFAULT_LEGAL_ENTITY ??
      'usmf'
    ).toLowerCase(),
    currencies,
    priceBookName: book === '' ? null : book,
    priceGroups: parseList(config.PRODUCTS_PRICE_GROUPS ?? ''),
    unitMap: parseUnitMap(config.PRODUCTS_UNIT_MAP ?? 'ea=Each,pcs=Each'),
    multiCurrency,
    bulkThreshold: config.PRODUCTS_BULK_THRESHOLD ?? 1_000
  };
}

export interface SyncCounts {
  products: { read: number; sent: number; deactivated: number; failed: number };
  prices: { read: number; sent: number; failed: number };
  warnings: number;
  via: 'none' | 'collections' | 'bulk';
}

export interface SyncDeps {
  d365: D365Client;
  salesforce: SalesforceClient;
  store: Store;
  logger: Logger;
  correlationId: string;
}

interface RecordOutcome {
  ok: boolean;
  id?: string;
  code?: string;
  message?: string;
}

const itemKey = (item: string): string => `item:${item}`;
const priceLedgerKey = (key: string): string => `price:${key}`;

/** One sync run (delta, or `full` to resend everything). */
export async function syncProducts(
  deps: SyncDeps,
  settings: ProductSyncSettings,
  options: { full: boolean; today?: string }
): Promise<SyncCounts> {
  const today = options.today ?? new Date().toISOString().slice(0, 10);
  const { d365, salesforce, store, logger } = deps;
  const [products, agreements, ledgerRows] = await Promise.all([
    readAll<D365Product>(d365, 'ReleasedProductsV2', PRODUCT_SELECT, settings.legalEntity),
    readAll<D365Agreement>(d365, 'SalesPriceAgreements', AGREEMENT_SELECT, settings.legalEntity),
    store.queryLedger({ flow: PRODUCTS_FLOW, limit: LEDGER_READ_LIMIT })
  ]);
  const ledger = new Map<string, LedgerEntry>(ledgerRows.map((row) => [row.recordKey, row]));
  const changed = (key: string, hash: string): boolean => {
    const row = ledger.get(key);
    return options.full || !row || row.lastStatus !== 'Synced' || row.contentHash !== hash;
  };

  const agreementsByItem = new Map<string, D365Agreement[]>();
  for (const agreement of agreements) {
    const item = String(agreement.ItemNumber ?? '');
    const list = agreementsByItem.get(item);
    if (list) list.push(agreement);
    else agreementsByItem.set(item, [agreement]);
  }

  const counts: SyncCounts = {
    products: { read: products.length, sent: 0, deactivated: 0, failed: 0 },
    prices: { read: 0, sent: 0, failed: 0 },
    warnings: 0,
    via: 'none'
  };
  const productRows: Array<Record<string, unknown>> = [];
  const productUpdates = new Map<string, LedgerUpdate>();
  const pricesByItem = new Map<string, MappedPrice[]>();
  const seen = new Set<string>();
  const ledgerUpdate = (
    recordKey: string,
    d365Key: string,
    hash: string | null,
    warnings: string[]
  ): LedgerUpdate => ({
    flow: PRODUCTS_FLOW,
    recordKey,
    salesforceId: null,
    d365Key,
    lastStatus: 'Synced',
    lastError: warnings.length ? `lossy mapping: ${warnings.join('; ')}` : null,
    contentHash: hash,
    correlationId: deps.correlationId
  });

  for (const product of products) {
    const mapped = mapProduct(product, settings);
    if (!mapped.itemNumber || seen.has(mapped.itemNumber)) continue;
    seen.add(mapped.itemNumber);
    counts.warnings += mapped.warnings.length;
    if (changed(itemKey(mapped.itemNumber), mapped.hash)) {
      productRows.push(mapped.fields);
      productUpdates.set(
        mapped.itemNumber,
        ledgerUpdate(itemKey(mapped.itemNumber), mapped.itemNumber, mapped.hash, mapped.warnings)
      );
    }
    const prices = mapPrices(
      product,
      agreementsByItem.get(mapped.itemNumber) ?? [],
      settings,
      today
    );
    counts.prices.read += prices.length;
    const changedPrices = prices.filter((price) => {
      if (priceKeyTooLong(price.key)) {
        counts.warnings += 1;
        logger.warn({ priceKey: price.key }, 'Price key longer than D365_Price_Key__c: skipped');
        return false;
      }
      counts.warnings += price.warnings.length;
      return changed(priceLedgerKey(price.key), price.hash);
    });
    if (changedPrices.length) pricesByItem.set(mapped.itemNumber, changedPrices);
  }
  for (const row of ledgerRows) {
    if (!row.recordKey.startsWith('item:') || row.d365Key === null) continue;
    if (seen.has(row.d365Key) || row.contentHash === null) continue;
    if (row.contentHash === DEACTIVATED_HASH && !options.full) continue;
    productRows.push(deactivation(row.d365Key));
    productUpdates.set(row.d365Key, ledgerUpdate(row.recordKey, row.d365Key, DEACTIVATED_HASH, []));
    counts.products.deactivated += 1;
  }

  const priceCount = [...pricesByItem.values()].reduce((n, list) => n + list.length, 0);
  if (productRows.length === 0 && priceCount === 0) {
    logger.info({ ...counts }, 'Products already in sync: nothing sent');
    return counts;
  }
  const useBulk = productRows.length + priceCount > settings.bulkThreshold;
  counts.via = useBulk ? 'bulk' : 'collections';

  // 1. Products. A product that failed keeps its prices back: they would fail on the missing parent.
  const productResults = await send(
    salesforce,
    'Product2',
    PRODUCT_KEY_FIELD,
    productRows,
    useBulk
  );
  const productLedger: LedgerUpdate[] = [];
  const failedItems = new Set<string>();
  productRows.forEach((row, index) => {
    const item = String(row[PRODUCT_KEY_FIELD]);
    const update = productUpdates.get(item) as LedgerUpdate;
    const result = productResults[index] as RecordOutcome;
    if (result.ok) {
      counts.products.sent += 1;
      productLedger.push({ ...update, salesforceId: result.id ?? null });
    } else {
      counts.products.failed += 1;
      failedItems.add(item);
      productLedger.push(failure(update, result));
    }
  });
  await writeLedger(store, productLedger);

  // 2. Prices: standard price book before the configured one (Salesforce requires a standard price).
  const prices = [...pricesByItem]
    .filter(([item]) => !failedItems.has(item))
    .flatMap(([, list]) => list);
  if (prices.length) {
    const isNew = (price: MappedPrice): boolean =>
      (ledger.get(priceLedgerKey(price.key))?.contentHash ?? null) === null;
    const needsBooks = prices.some(isNew);
    const books = needsBooks ? await resolvePriceBooks(salesforce, settings) : null;
    const rowOf = (price: MappedPrice, asNew: boolean): Record<string, unknown> =>
      priceRecord(
        price,
        asNew && books
          ? {
              pricebookId: bookIdOf(books, price),
              multiCurrency: settings.multiCurrency
            }
          : null
      );
    let outcomes: RecordOutcome[];
    if (useBulk) {
      // One job, each product's standard entry right before its configured one; entries Salesforce
      // processed before their standard price (parallel chunks) come back and are sent again below.
      const ordered = orderStandardFirst(prices);
      const results = await send(
        salesforce,
        'PricebookEntry',
        PRICE_KEY_FIELD,
        ordered.map((price) => rowOf(price, isNew(price))),
        true
      );
      outcomes = realign(prices, ordered, results);
    } else {
      outcomes = await sendInTwoPhases(salesforce, prices, (price) => rowOf(price, isNew(price)));
    }
    // Second pass for the record errors a different row shape or order fixes (ledger out of date).
    const again = new Map<MappedPrice, { index: number; code: string }>();
    prices.forEach((price, index) => {
      const code = (outcomes[index] as RecordOutcome).code ?? '';
      if ([RESEND_AS_EXISTING, RESEND_AS_NEW, RESEND_LATER].includes(code))
        again.set(price, { index, code });
    });
    let fixBooks = books;
    if (again.size) {
      fixBooks ??= await resolvePriceBooks(salesforce, settings);
      const createWith = fixBooks;
      const retried = await sendInTwoPhases(salesforce, [...again.keys()], (price) => {
        const code = again.get(price)?.code;
        const asNew = code === RESEND_AS_EXISTING ? false : code === RESEND_AS_NEW || isNew(price);
        return priceRecord(
          price,
          asNew
            ? {
                pricebookId: bookIdOf(createWith, price),
                multiCurrency: settings.multiCurrency
              }
            : null
        );
      });
      [...again.values()].forEach(({ index }, i) => {
        outcomes[index] = retried[i] as RecordOutcome;
      });
    }
    // An entry for the same price book and product made without a price key (by hand, or by an
    // import) blocks ours: adopt it by giving it the key and the D365 price.
    const duplicates = prices.flatMap((price, index) =>
      (outcomes[index] as RecordOutcome).code === DUPLICATE_ENTRY ? [{ price, index }] : []
    );
    if (duplicates.length) {
      fixBooks ??= await resolvePriceBooks(salesforce, settings);
      const adopted = await adoptEntries(
        salesforce,
        duplicates.map(({ price }) => price),
        fixBooks
      );
      duplicates.forEach(({ index }, i) => {
        const outcome = adopted[i];
        if (outcome) outcomes[index] = outcome;
      });
    }
    const priceLedger: LedgerUpdate[] = prices.map((price, index) => {
      const outcome = outcomes[index] as RecordOutcome;
      const update = ledgerUpdate(priceLedgerKey(price.key), price.key, price.hash, price.warnings);
      if (outcome.ok) {
        counts.prices.sent += 1;
        return { ...update, salesforceId: outcome.id ?? null };
      }
      counts.prices.failed += 1;
      return failure(update, outcome);
    });
    await writeLedger(store, priceLedger);
  }
  logger.info({ ...counts }, 'Products sync finished');
  return counts;
}

function failure(update: LedgerUpdate, outcome: RecordOutcome): LedgerUpdate {
  // contentHash null keeps the last synced hash (ledger COALESCE); the Error status resends it next run.
  return {
    ...update,
    lastStatus: 'Error',
    lastError: `${outcome.code ?? 'UNKNOWN_ERROR'}: ${outcome.message ?? 'no message'}`,
    contentHash: null
  };
}

async function readAll<T>(
  d365: D365Client,
  entitySet: string,
  select: readonly string[],
  legalEntity: string
): Promise<T[]> {
  const rows: T[] = [];
  // cross-company with a dataAreaId filter reads the configured company whatever the app's default is.
  for await (const row of d365.query<T>(entitySet, {
    select,
    filter: filter.eq('dataAreaId', legalEntity),
    crossCompany: true
  })) {
    rows.push(row);
  }
  return rows;
}

async function writeLedger(store: Store, updates: readonly LedgerUpdate[]): Promise<void> {
  for (let start = 0; start < updates.length; start += LEDGER_WRITE_CHUNK) {
    await Promise.all(
      updates.slice(start, start + LEDGER_WRITE_CHUNK).map((u) => store.upsertLedger(u))
    );
  }
}

function orderStandardFirst(prices: readonly MappedPrice[]): MappedPrice[] {
  const rank = (p: MappedPrice): number => (p.book === 'standard' ? 0 : 1);
  return [...prices].sort(
    (a, b) =>
      a.itemNumber.localeCompare(b.itemNumber) ||
      a.currency.localeCompare(b.currency) ||
      rank(a) - rank(b)
  );
}

function realign(
  original: readonly MappedPrice[],
  ordered: readonly MappedPrice[],
  results: readonly RecordOutcome[]
): RecordOutcome[] {
  const byPrice = new Map<MappedPrice, RecordOutcome>();
  ordered.forEach((price, index) => byPrice.set(price, results[index] as RecordOutcome));
  return original.map((price) => byPrice.get(price) as RecordOutcome);
}

/** Collections: all standard entries first, then the configured book's (separate calls). */
async function sendInTwoPhases(
  salesforce: SalesforceClient,
  prices: readonly MappedPrice[],
  rowOf: (price: MappedPrice) => Record<string, unknown>
): Promise<RecordOutcome[]> {
  const outcomes: RecordOutcome[] = new Array<RecordOutcome>(prices.length);
  for (const book of ['standard', 'custom'] as const) {
    const indexes = prices.flatMap((price, index) => (price.book === book ? [index] : []));
    if (!indexes.length) continue;
    const results = await send(
      salesforce,
      'PricebookEntry',
      PRICE_KEY_FIELD,
      indexes.map((index) => rowOf(prices[index] as MappedPrice)),
      false
    );
    indexes.forEach((index, i) => {
      outcomes[index] = results[i] as RecordOutcome;
    });
  }
  return outcomes;
}

/** Upserts by External ID; one outcome per row, in order. Whole-call failures throw (job retried). */
async function send(
  salesforce: SalesforceClient,
  sobject: string,
  keyField: string,
  rows: ReadonlyArray<Record<string, unknown>>,
  bulk: boolean
): Promise<RecordOutcome[]> {
  if (!rows.length) return [];
  if (!bulk) {
    const results = await salesforce.collections.upsert(sobject, keyField, rows.map(nestRelations));
    return results.map((result) =>
      result.success
        ? { ok: true, ...(result.id ? { id: result.id } : {}) }
        : {
            ok: false,
            code: result.errors[0]?.errorCode ?? 'UNKNOWN_ERROR',
            message: result.errors.map((e) => e.message).join('; ')
          }
    );
  }
  const result = await salesforce.bulkIngest({
    object: sobject,
    operation: 'upsert',
    externalIdFieldName: keyField,
    records: rows as ReadonlyArray<Record<string, string | number | boolean | null>>,
    results: 'failures',
    firstPollDelayMs: Math.max(BULK_POLL_DELAY_MIN_MS, rows.length * BULK_POLL_DELAY_PER_ROW_MS)
  });
  if (result.state !== 'JobComplete') {
    throw new ClientError(
      `Bulk ${sobject} job ${result.jobId} ended ${result.state}: ${result.errorMessage ?? 'no message'}`,
      { system: 'salesforce', kind: 'transient', code: 'BULK_JOB_FAILED' }
    );
  }
  const failed = new Map<string, RecordOutcome>();
  for (const row of result.failed) {
    failed.set(row.record[keyField] ?? '', {
      ok: false,
      code: row.errorCode,
      message: row.message
    });
  }
  return rows.map(
    (row) => failed.get(String(row[keyField])) ?? { ok: true } // Successful rows are not downloaded.
  );
}

/** `Product2.D365_Item_Number__c: x` (Bulk column) → `Product2: { D365_Item_Number__c: x }` (REST). */
export function nestRelations(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    const dot = key.indexOf('.');
    if (dot < 0) out[key] = value;
    else out[key.slice(0, dot)] = { [key.slice(dot + 1)]: value };
  }
  return out;
}

interface PriceBooks {
  standard: string;
  custom: string | null;
}

function bookIdOf(books: PriceBooks, price: MappedPrice): string {
  return price.book === 'standard' ? books.standard : (books.custom as string);
}

/**
 * Finds the key-less entries that block ours (same price book and product) and updates them with the
 * key and price; one outcome per price, undefined where no such entry exists (the error stands).
 */
async function adoptEntries(
  salesforce: SalesforceClient,
  prices: readonly MappedPrice[],
  books: PriceBooks
): Promise<Array<RecordOutcome | undefined>> {
  const found = new Map<string, string>();
  const items = [...new Set(prices.map((p) => p.itemNumber))];
  const bookIds = [books.standard, ...(books.custom ? [books.custom] : [])];
  for (let start = 0; start < items.length; start += ADOPT_QUERY_CHUNK) {
    const chunk = items.slice(start, start + ADOPT_QUERY_CHUNK);
    const soql =
      'SELECT Id, Pricebook2Id, Product2.D365_Item_Number__c FROM PricebookEntry' +
      ` WHERE D365_Price_Key__c = null AND Pricebook2Id IN ${soqlList(bookIds)}` +
      ` AND Product2Id IN (SELECT Id FROM Product2 WHERE D365_Item_Number__c IN ${soqlList(chunk)})`;
    for await (const row of salesforce.query<{
      Id: string;
      Pricebook2Id: string;
      Product2: { D365_Item_Number__c: string } | null;
    }>(soql)) {
      const item = row.Product2?.D365_Item_Number__c;
      // Keyed by the exact item number: a twin differing only in case is never adopted.
      if (item !== undefined) found.set(`${row.Pricebook2Id.slice(0, 15)}|${item}`, row.Id);
    }
  }
  const targets = prices.map((price) =>
    found.get(`${bookIdOf(books, price).slice(0, 15)}|${price.itemNumber}`)
  );
  const updates = prices.flatMap((price, i) =>
    targets[i]
      ? [
          {
            Id: targets[i],
            D365_Price_Key__c: price.key,
            UnitPrice: price.unitPrice,
            IsActive: true
          }
        ]
      : []
  );
  if (!updates.length) return prices.map(() => undefined);
  const results = await salesforce.collections.update('PricebookEntry', updates);
  let next = 0;
  return targets.map((target) => {
    if (!target) return undefined;
    const result = results[next++];
    return result?.success
      ? { ok: true, id: target }
      : {
          ok: false,
          code: result?.errors[0]?.errorCode ?? 'UNKNOWN_ERROR',
          message: result?.errors.map((e) => e.message).join('; ') ?? 'no result'
        };
  });
}

/**
 * The standard price book's id (looked up, never hard-coded) and the configured one's, created when
 * missing so a new org works without manual set-up. Looked up only when new entries are due, so a
 * run that only changes prices costs no query; not cached, so a re-created price book is picked up.
 */
async function resolvePriceBooks(
  salesforce: SalesforceClient,
  settings: ProductSyncSettings
): Promise<PriceBooks> {
  const name = settings.priceBookName;
  const where = name ? `IsStandard = true OR Name = ${soqlString(name)}` : 'IsStandard = true';
  const found: Array<{ Id: string; Name: string; IsStandard: boolean }> = [];
  for await (const book of salesforce.query<{ Id: string; Name: string; IsStandard: boolean }>(
    `SELECT Id, Name, IsStandard FROM Pricebook2 WHERE ${where}`
  )) {
    found.push(book);
  }
  const standard = found.find((b) => b.IsStandard)?.Id;
  if (!standard) {
    throw new PermanentFlowError('Salesforce has no standard price book (Pricebook2.IsStandard)');
  }
  if (!name) return { standard, custom: null };
  // SOQL = is case-insensitive on Name: prefer the exact spelling when both exist.
  const named = found.filter((b) => !b.IsStandard);
  const existing =
    named.find((b) => b.Name === name)?.Id ??
    named.find((b) => b.Name.toLowerCase() === name.toLowerCase())?.Id;
  if (existing) return { standard, custom: existing };
  const created = await salesforce.request<{ id: string }>('POST', '/sobjects/Pricebook2', {
    Name: name,
    IsActive: true,
    Description: 'Prices from D365 trade agreements, maintained by d365-relay'
  });
  return { standard, custom: created.id };
}

/** The flow handler: `{ full?: boolean }` from `d365-relay sync products [--full]`, the admin route or the schedule. */
export async function handleProductsSync(
  payload: unknown,
  context: FlowContext
): Promise<FlowOutcome> {
  const full =
    typeof payload === 'object' &&
    payload !== null &&
    (payload as { full?: unknown }).full === true;
  const settings = productSyncSettings(context.config);
  // A delta and a full run may be queued together: one at a time, or both could create the price book.
  const holder = `job:${context.jobId}`;
  if (!(await context.store.acquireLease(RUN_LEASE, holder, RUN_LEASE_TTL_MS))) {
    throw new Error('Another products sync is running; this run waits for it');
  }
  let counts: SyncCounts;
  try {
    counts = await syncProducts(
      {
        d365: d365Of(context),
        salesforce: salesforceOf(context),
        store: context.store,
        logger: context.logger,
        correlationId: context.correlationId
      },
      settings,
      { full }
    );
  } finally {
    await context.store.releaseLease(RUN_LEASE, holder);
  }
  if (counts.via === 'none') return { status: 'skipped', reason: 'nothing changed' };
  return { status: 'done' };
}
