import { ENTITY_INDEX, type EntityDef, type EntityIndex } from './entities.ts';
import { defaultValue, type Value, type Values } from './values.ts';

export interface Row {
  values: Values;
  recId: number;
  recVersion: number;
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
  readonly secondary = new Map<string, Map<string, Set<Row>>>();

  constructor(index: EntityIndex) {
    this.def = index.def;
    this.index = index;
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

  /** Rows whose indexed field equals the value (case-insensitive), or undefined if not indexed. */
  lookup(field: string, value: Value): Set<Row> | undefined {
    const idx = this.secondary.get(field);
    if (!idx) return undefined;
    return idx.get(keyPart(value)) ?? new Set();
  }

  indexAdd(row: Row): void {
    for (const [field, idx] of this.secondary) {
      const k = keyPart(row.values[field]);
      let set = idx.get(k);
      if (!set) idx.set(k, (set = new Set()));
      set.add(row);
    }
  }

  indexRemove(row: Row): void {
    for (const [field, idx] of this.secondary) {
      const k = keyPart(row.values[field]);
      const set = idx.get(k);
      if (set) {
        set.delete(row);
        if (set.size === 0) idx.delete(k);
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

  /** Moves a sequence forward so that seeded numbers are never handed out again. */
  reserveNumber(sequence: string, used: number): void {
    if ((this.sequences.get(sequence) ?? 0) < used) this.sequences.set(sequence, used);
  }

  /** A full row: every property present, defaults for those not given. */
  newRow(set: string, values: Values): Row {
    const t = this.table(set);
    const full: Values = {};
    for (const p of t.def.properties) full[p.name] = values[p.name] ?? defaultValue(p);
    return { values: full, recId: this.allocateRecId(), recVersion: 0 };
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
  update(set: string, row: Row, values: Values): void {
    const t = this.table(set);
    const before = row.values;
    const beforeVersion = row.recVersion;
    const oldKey = t.keyOf(before);
    t.indexRemove(row);
    row.values = values;
    row.recVersion = beforeVersion + 1;
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
  let raw = `'${row.recVersion},${row.recId}`;
  for (let i = 1; i < def.dataSources; i++) raw += ';0,0';
  raw += "'";
  return `W/"${Buffer.from(raw).toString('base64')}"`;
}
