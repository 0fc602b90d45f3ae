import { ENTITY_INDEX, type EntityDef, type EntityIndex } from './entities.ts';
import { defaultValue, type Value, type Values } from './values.ts';

/**
 * Builds a row object from an object literal with every property in definition order. V8 keeps
 * literal-built objects in fast mode with one shared shape per entity; objects grown by keyed
 * stores fall into dictionary mode and cost several times the memory (100k customers: ~2 KB each).
 */
function rowFactory(def: EntityDef): (v: Values, d: Value[]) => Values {
  const body = def.properties
    .map((p, i) => `${JSON.stringify(p.name)}: v[${JSON.stringify(p.name)}] ?? d[${i}]`)
    .join(',\n');
  return new Function('v', 'd', `return {\n${body}\n};`) as (v: Values, d: Value[]) => Values;
}

export interface Row {
  values: Values;
  recId: number;
  recVersion: number;
  /** Cached ETag of this version ('' until first computed). */
  etag: string;
}

/** Fields with a secondary index: the lookups flows and $expand do by a non-key field. */
const SECONDARY_INDEXES: Record<string, string[]> = {
  CustomersV3: ['PartyNumber', 'IdentificationNumber'],
  ContactPersons: ['AssociatedPartyNumber'],
  SalesOrderHeadersV2: ['CustomersOrderReference', 'OrderingCustomerAccountNumber'],
  SalesOrderLines: ['SalesOrderNumber'],
  SalesInvoiceHeadersV2: ['SalesOrderNumber', 'InvoiceCustomerAccountNumber'],
  SalesInvoiceV2Lines: ['InvoiceNumber'],
  CustTransactions: ['AccountNum', 'Invoice'],
  WarehousesOnHandV2: ['ItemNumber'],
  SalesPriceAgreements: ['ItemNumber']
};

const SEP = '\u0001';

/** SQL Server under F&O compares case-insensitively, so keys and indexes are lower-cased. */
export function keyPart(v: Value | undefined): string {
  return typeof v === 'string' ? v.toLowerCase() : String(v ?? '');
}

export class Table {
  readonly def: EntityDef;
  readonly index: EntityIndex;
  readonly rows = new Map<string, Row>();
  /** Field → value → the row, or a Set once two rows share the value. */
  readonly secondary = new Map<string, Map<string, Row | Set<Row>>>();
  private readonly make: (v: Values, d: Value[]) => Values;
  private readonly defaults: Value[];

  constructor(index: EntityIndex) {
    this.def = index.def;
    this.index = index;
    this.make = rowFactory(index.def);
    this.defaults = index.def.properties.map(defaultValue);
    for (const field of SECONDARY_INDEXES[index.def.entitySet] ?? []) {
      this.secondary.set(field, new Map());
    }
  }

  keyOf(values: Values): string {
    const keys = this.def.keys;
    if (keys.length === 2) return keyPart(values[keys[0]!]) + SEP + keyPart(values[keys[1]!]);
    let k = '';
    for (let i = 0; i < keys.length; i++) k += (i ? SEP : '') + keyPart(values[keys[i]!]);
    return k;
  }

  get(values: Values): Row | undefined {
    return this.rows.get(this.keyOf(values));
  }

  /** A complete row object: every property present, defaults where values has none. */
  build(values: Values): Values {
    return this.make(values, this.defaults);
  }

  /** Rows whose indexed field equals the value (case-insensitive), or undefined if not indexed. */
  lookup(field: string, value: Value): Iterable<Row> | undefined {
    const idx = this.secondary.get(field);
    if (!idx) return undefined;
    const hit = idx.get(keyPart(value));
    return hit === undefined ? [] : hit instanceof Set ? hit : [hit];
  }

  indexAdd(row: Row): void {
    for (const [field, idx] of this.secondary) {
      const k = keyPart(row.values[field]);
      const hit = idx.get(k);
      if (hit === undefined) idx.set(k, row);
      else if (hit instanceof Set) hit.add(row);
      else if (hit !== row) idx.set(k, new Set([hit, row]));
    }
  }

  indexRemove(row: Row): void {
    for (const [field, idx] of this.secondary) {
      const k = keyPart(row.values[field]);
      const hit = idx.get(k);
      if (hit === row) idx.delete(k);
      else if (hit instanceof Set) {
        hit.delete(row);
        if (hit.size === 1) idx.set(k, hit.values().next().value!);
      }
    }
  }
}

/** First RecId handed out, in the range real environments show (e.g. 5637144576). */
const FIRST_REC_ID = 5637144576;

/**
 * In-memory tables with an undo journal, so an OData changeset or a control operation can be
 * rolled back as a whole.
 */
export class Store {
  readonly tables = new Map<string, Table>();
  private nextRecId = FIRST_REC_ID;
  private readonly sequences = new Map<string, number>();
  private journal: Array<() => void> | null = null;

  constructor() {
    for (const [set, index] of ENTITY_INDEX) this.tables.set(set, new Table(index));
  }

  table(set: string): Table {
    const t = this.tables.get(set);
    if (!t) throw new Error(`Unknown entity set ${set}`);
    return t;
  }

  allocateRecId(): number {
    return this.nextRecId++;
  }

  /** Number sequences are not rolled back, as in D365 (continuous sequences aside): gaps are normal. */
  nextNumber(sequence: string): number {
    const n = (this.sequences.get(sequence) ?? 0) + 1;
    this.sequences.set(sequence, n);
    return n;
  }

  /** A full row: every property present, defaults for those not given. */
  newRow(set: string, values: Values): Row {
    return {
      values: this.table(set).build(values),
      recId: this.allocateRecId(),
      recVersion: 0,
      etag: ''
    };
  }

  insert(set: string, row: Row): void {
    const t = this.table(set);
    const key = t.keyOf(row.values);
    t.rows.set(key, row);
    t.indexAdd(row);
    this.journal?.push(() => {
      t.rows.delete(key);
      t.indexRemove(row);
    });
  }

  /** Replaces the row's values in place (object identity kept for indexes held by callers). */
  update(set: string, row: Row, next: Values): void {
    const t = this.table(set);
    const values = t.build(next);
    const before = row.values;
    const beforeVersion = row.recVersion;
    const oldKey = t.keyOf(before);
    t.indexRemove(row);
    row.values = values;
    row.recVersion = beforeVersion + 1;
    row.etag = '';
    const newKey = t.keyOf(values);
    if (newKey !== oldKey) {
      t.rows.delete(oldKey);
      t.rows.set(newKey, row);
    }
    t.indexAdd(row);
    this.journal?.push(() => {
      t.indexRemove(row);
      if (newKey !== oldKey) {
        t.rows.delete(newKey);
        t.rows.set(oldKey, row);
      }
      row.values = before;
      row.recVersion = beforeVersion;
      row.etag = '';
      t.indexAdd(row);
    });
  }

  remove(set: string, row: Row): void {
    const t = this.table(set);
    const key = t.keyOf(row.values);
    t.rows.delete(key);
    t.indexRemove(row);
    this.journal?.push(() => {
      t.rows.set(key, row);
      t.indexAdd(row);
    });
  }

  /** Runs fn atomically: any throw undoes every change made inside it. Nested calls join. */
  transaction<T>(fn: () => T): T {
    if (this.journal) return fn();
    const undo: Array<() => void> = [];
    this.journal = undo;
    try {
      const result = fn();
      this.journal = null;
      return result;
    } catch (err) {
      this.journal = null;
      for (let i = undo.length - 1; i >= 0; i--) undo[i]!();
      throw err;
    }
  }

  clear(): void {
    for (const t of this.tables.values()) {
      t.rows.clear();
      for (const idx of t.secondary.values()) idx.clear();
    }
    this.sequences.clear();
    this.nextRecId = FIRST_REC_ID;
  }
}

/** `W/"<base64 of 'RecVersion,RecId;0,0…'>"`: one pair per data source, as decoded in §1.6. */
export function etagOf(def: EntityDef, row: Row): string {
  if (row.etag) return row.etag;
  let raw = `'${row.recVersion},${row.recId}`;
  for (let i = 1; i < def.dataSources; i++) raw += ';0,0';
  raw += "'";
  row.etag = `W/"${Buffer.from(raw).toString('base64')}"`;
  return row.etag;
}
