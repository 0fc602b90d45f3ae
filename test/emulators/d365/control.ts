// Emulator-only control API: causes real-looking changes (postings, payments, stock), steers
// throttling and faults, and reads counters. The same operations are served over HTTP under
// /_emulator (see index.ts).
import type { Authority, ClientRegistration } from './auth.ts';
import type {
  BusinessEvents,
  DeliveryOptions,
  DeliveryRecord,
  Endpoint,
  EndpointRegistration
} from './business-events.ts';
import type { DataManagement, Execution } from './dmf.ts';
import type { Domain } from './domain.ts';
import { ENTITY_INDEX } from './entities.ts';
import { badRequest } from './errors.ts';
import type { FaultConfig, Faults, ScriptedFault } from './faults.ts';
import { parseFilter } from './query.ts';
import { keyPart } from './store.ts';
import type { Throttle, ThrottlingConfig } from './throttling.ts';
import { coerceBody, type Values } from './values.ts';

export interface CounterSnapshot {
  /** Requests per entity set (or action target) and HTTP method. */
  requests: Record<string, Record<string, number>>;
  /** 429 answers, from throttling, storms and injected faults, incl. $batch parts. */
  throttled: number;
  batches: number;
  unauthorized: number;
  injectedErrors: number;
  droppedConnections: number;
  tokensIssued: number;
  dmfJobs: { imports: number; exports: number; byStatus: Record<string, number> };
  businessEvents: { emitted: number; delivered: number; failed: number };
}

export class Counters {
  requests: Record<string, Record<string, number>> = {};
  throttled = 0;
  batches = 0;
  unauthorized = 0;
  injectedErrors = 0;
  droppedConnections = 0;
  tokensIssued = 0;

  request(entitySet: string, method: string): void {
    const bySet = (this.requests[entitySet] ??= {});
    bySet[method] = (bySet[method] ?? 0) + 1;
  }

  reset(): void {
    this.requests = {};
    this.throttled = 0;
    this.batches = 0;
    this.unauthorized = 0;
    this.injectedErrors = 0;
    this.droppedConnections = 0;
    this.tokensIssued = 0;
  }
}

export interface ControlDeps {
  baseUrl: string;
  domain: Domain;
  defaultCompany: string;
  throttle: Throttle;
  faults: Faults;
  events: BusinessEvents;
  dmf: DataManagement;
  authority: Authority;
  counters: Counters;
  reseed: () => void;
}

export class Control {
  private readonly d: ControlDeps;

  constructor(deps: ControlDeps) {
    this.d = deps;
  }

  private company(legalEntity: string | undefined): string {
    return keyPart(legalEntity ?? this.d.defaultCompany);
  }

  /** Posts the invoice for a sales order: invoice header and lines, customer transaction, event. */
  postInvoice(input: {
    salesOrderNumber: string;
    legalEntity?: string;
    invoiceDate?: string;
  }): Values {
    return this.d.domain.postSalesInvoice(
      this.company(input.legalEntity),
      input.salesOrderNumber,
      input.invoiceDate
    ).values;
  }

  postFreeTextInvoice(input: {
    customerAccount: string;
    lines: Array<{ description: string; amount: number }>;
    legalEntity?: string;
    invoiceDate?: string;
  }): Values {
    return this.d.domain.postFreeTextInvoice(
      this.company(input.legalEntity),
      input.customerAccount,
      input.lines,
      input.invoiceDate
    ).values;
  }

  /** Registers a customer payment, settles open invoices and fires the payment event. */
  registerPayment(input: {
    customerAccount: string;
    amount: number;
    invoiceNumber?: string;
    legalEntity?: string;
    date?: string;
  }): Values {
    return this.d.domain.registerPayment(
      this.company(input.legalEntity),
      input.customerAccount,
      input.amount,
      { invoiceNumber: input.invoiceNumber, date: input.date }
    ).values;
  }

  setStock(input: {
    itemNumber: string;
    siteId: string;
    warehouseId: string;
    onHand?: number;
    reserved?: number;
    ordered?: number;
    legalEntity?: string;
  }): Values {
    return this.d.domain.setOnHand(
      this.company(input.legalEntity),
      input.itemNumber,
      input.siteId,
      input.warehouseId,
      input
    ).values;
  }

  setThrottling(config: ThrottlingConfig): void {
    this.d.throttle.set(config);
  }

  throttleStorm(input: { seconds: number; retryAfterSeconds?: number }): void {
    this.d.throttle.storm(input.seconds, input.retryAfterSeconds);
  }

  setFaults(config: FaultConfig): void {
    this.d.faults.set(config);
  }

  queueFaults(faults: ScriptedFault[]): void {
    this.d.faults.enqueue(...faults);
  }

  clearFaults(): void {
    this.d.faults.clear();
  }

  counters(): CounterSnapshot {
    const c = this.d.counters;
    const byStatus: Record<string, number> = {};
    let imports = 0;
    let exports = 0;
    for (const e of this.d.dmf.executions.values()) {
      byStatus[e.status] = (byStatus[e.status] ?? 0) + 1;
      if (e.kind === 'import') imports++;
      else exports++;
    }
    const delivered = this.d.events.log.filter((l) => l.status === 'delivered').length;
    return {
      requests: structuredClone(c.requests),
      throttled: c.throttled,
      batches: c.batches,
      unauthorized: c.unauthorized,
      injectedErrors: c.injectedErrors,
      droppedConnections: c.droppedConnections,
      tokensIssued: c.tokensIssued,
      dmfJobs: { imports, exports, byStatus },
      businessEvents: {
        emitted: this.d.events.emitted,
        delivered,
        failed: this.d.events.log.length - delivered
      }
    };
  }

  /** Zeroes the counters only (data, faults and throttling stay as they are). */
  resetCounters(): void {
    this.d.counters.reset();
    this.d.throttle.rejected = 0;
  }

  /** Back to the start state: seed data, no faults, no throttling, no endpoints, zero counters. */
  reset(): void {
    this.d.faults.clear();
    this.d.throttle.set({});
    this.d.throttle.reset();
    this.d.events.reset();
    this.d.dmf.reset();
    this.d.counters.reset();
    this.d.reseed();
  }

  /** Reads rows directly (no paging, no throttling); `legalEntity: '*'` reads every company. */
  read(entitySet: string, options: { filter?: string; legalEntity?: string } = {}): Values[] {
    const index = ENTITY_INDEX.get(entitySet);
    if (!index) throw badRequest(`Unknown entity set '${entitySet}'.`);
    const filter = options.filter ? parseFilter(options.filter, index) : undefined;
    const company = options.legalEntity === '*' ? undefined : this.company(options.legalEntity);
    const out: Values[] = [];
    for (const row of this.d.domain.store.table(entitySet).rows.values()) {
      if (company && index.def.companySpecific && row.values.dataAreaId !== company) continue;
      if (filter && !filter.predicate(row.values)) continue;
      out.push({ ...row.values });
    }
    return out;
  }

  /** Inserts through the same validation as an OData POST; returns the stored row. */
  insert(entitySet: string, values: Record<string, unknown>, legalEntity?: string): Values {
    const index = ENTITY_INDEX.get(entitySet);
    if (!index) throw badRequest(`Unknown entity set '${entitySet}'.`);
    const typed = coerceBody(index, values);
    if (index.def.readOnly) {
      const store = this.d.domain.store;
      const row = store.newRow(entitySet, {
        ...typed,
        ...(index.def.companySpecific
          ? { dataAreaId: this.company((typed.dataAreaId as string | undefined) ?? legalEntity) }
          : {})
      });
      if (entitySet === 'SalesPriceAgreements') row.values.RecordId = row.recId;
      if (entitySet === 'CustTransactions') row.values.RecId = row.recId;
      store.insert(entitySet, row);
      return { ...row.values };
    }
    return { ...this.d.domain.create(entitySet, typed, this.company(legalEntity)).values };
  }

  registerEndpoint(reg: EndpointRegistration): Endpoint {
    return this.d.events.register(reg);
  }

  unregisterEndpoint(id: string): boolean {
    return this.d.events.unregister(id);
  }

  setDelivery(options: DeliveryOptions): void {
    this.d.events.configure(options);
  }

  deliveries(): { log: DeliveryRecord[]; errors: DeliveryRecord[] } {
    return {
      log: [...this.d.events.log],
      errors: this.d.events.errors.map(({ payload: _payload, ...rest }) => rest)
    };
  }

  resendEvent(controlNumber: number): boolean {
    return this.d.events.resend(controlNumber);
  }

  /** Resolves once all business-event deliveries started so far have finished. */
  eventsSettled(): Promise<void> {
    return this.d.events.settled();
  }

  registerClient(client: ClientRegistration): void {
    this.d.authority.registerClient(client);
  }

  /** Issues a token without the token endpoint, e.g. an expired one or one for another audience. */
  issueToken(input: {
    clientId: string;
    audience?: string;
    lifetimeSeconds?: number;
  }): Promise<string> {
    return this.d.authority.issue(
      input.clientId,
      input.audience ?? this.d.baseUrl,
      input.lifetimeSeconds
    );
  }

  defineDataProject(input: { definitionGroupId: string; entitySet: string }): void {
    if (!ENTITY_INDEX.has(input.entitySet))
      throw badRequest(`Unknown entity set '${input.entitySet}'.`);
    this.d.dmf.projects.set(input.definitionGroupId, input.entitySet);
  }

  dmfJobs(): Execution[] {
    return [...this.d.dmf.executions.values()].map((e) => ({ ...e, errors: [...e.errors] }));
  }

  /** Resolves once every queued DMF import/export has finished. */
  dmfIdle(): Promise<void> {
    return this.d.dmf.idle();
  }
}
