// Business events (shared/reference/d365-fo.md §6): catalog rows, HTTPS endpoints (a plain POST of
// the JSON payload to a URL), the documented envelope, monotonic ControlNumber with gaps, and
// at-least-once delivery with retries; duplicates and reordering can be switched on for tests.
import { randomUUID } from 'node:crypto';
import { JSON_TYPE, type BoundAction, type DataResponse } from './odata.ts';
import type { Store } from './store.ts';
import { PAYMENT_EVENT_ID } from './domain.ts';
import type { Value } from './values.ts';

/** Business events parameters defaults [MS be-home]: retry count 3, 1000 ms between retries, 10 s timeout. */
export const DELIVERY_DEFAULTS = { retryCount: 3, retryDelayMs: 1000, timeoutMs: 10_000 } as const;
/** Endpoints allowed per event [MS be-home]. */
export const MAX_ENDPOINTS_PER_EVENT = 10;
export const TEST_EVENT_ID = 'BusinessEventsTestEndpointContract';
/** First control number, in the RecId-like range seen in real payloads. */
const FIRST_CONTROL_NUMBER = 5637144576;

export const CATALOG = [
  {
    BusinessEventId: 'SalesInvoicePostedBusinessEvent',
    Name: 'Sales order invoice posted',
    Description: 'Sales order invoice posted',
    Module: 'SalesOrder',
    Contract: 'SalesInvoicePostedBusinessEventContract'
  },
  {
    BusinessEventId: 'CustFreeTextInvoicePostedBusinessEvent',
    Name: 'Free text invoice posted',
    Description: 'Free text invoice posted',
    Module: 'Cust',
    Contract: 'CustFreeTextInvoicePostedBusinessEventContract'
  },
  {
    BusinessEventId: PAYMENT_EVENT_ID,
    Name: 'Payment posted',
    Description: 'Customer payment posted and settled',
    Module: 'Cust',
    Contract: 'CustomerPaymentPostedBusinessEventContract'
  }
];

/**
 * `POST /data/BusinessEventsCatalogs/Microsoft.Dynamics.DataEntities.getBusinessEventsCatalog`
 * `{"_businessEventsCategory": "<module>"}` (action name as d365fo.integrations calls it). The
 * response shape is UNCONFIRMED: the catalog rows of that category (all when blank).
 */
export function catalogAction(baseUrl: string): BoundAction {
  return (action, body): DataResponse => {
    if (action !== 'getBusinessEventsCatalog') {
      return {
        status: 404,
        headers: { 'Content-Type': JSON_TYPE },
        body: JSON.stringify({
          error: { code: '', message: `No HTTP resource was found for the action '${action}'.` }
        })
      };
    }
    const category = String(
      (body as Record<string, unknown> | undefined)?._businessEventsCategory ?? ''
    );
    const value = CATALOG.filter(
      (c) => category === '' || c.Module.toLowerCase() === category.toLowerCase()
    );
    return {
      status: 200,
      headers: { 'Content-Type': JSON_TYPE, 'OData-Version': '4.0' },
      body: JSON.stringify({
        '@odata.context': `${baseUrl}/data/$metadata#Collection(Microsoft.Dynamics.DataEntities.BusinessEventsCatalog)`,
        value
      })
    };
  };
}

export function seedCatalog(store: Store): void {
  for (const entry of CATALOG)
    store.insert('BusinessEventsCatalogs', store.newRow('BusinessEventsCatalogs', entry));
}

export interface EndpointRegistration {
  url: string;
  /** Events the endpoint is activated for; default: every event in the catalog. */
  businessEventIds?: string[];
  /** Activation per legal entity; blank = all legal entities. */
  legalEntity?: string;
}

export interface Endpoint extends Required<Omit<EndpointRegistration, 'legalEntity'>> {
  id: string;
  legalEntity: string;
}

export interface DeliveryOptions {
  retryCount?: number;
  retryDelayMs?: number;
  timeoutMs?: number;
  /** Probability (0..1) that an event is delivered twice. */
  duplicateRate?: number;
  /** Buffer events for this long and deliver each buffer in reverse order (0 = in order). */
  reorderWindowMs?: number;
}

export interface DeliveryRecord {
  endpointId: string;
  businessEventId: string;
  controlNumber: number;
  attempts: number;
  status: 'delivered' | 'failed';
  lastError?: string;
}

type Payload = Record<string, unknown>;

/** "/Date(ms)/" WCF JSON date; date-only values are midnight UTC (§6.3). */
function wcfDate(iso: string): string {
  return `/Date(${Date.parse(iso.slice(0, 10) + 'T00:00:00Z')})/`;
}

export class BusinessEvents {
  private readonly endpoints = new Map<string, Endpoint>();
  private controlNumber = FIRST_CONTROL_NUMBER;
  private options: DeliveryOptions = {};
  private buffer: Array<{ endpoint: Endpoint; payload: Payload }> = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly pending = new Set<Promise<void>>();
  private readonly chains = new Map<string, Promise<void>>();
  readonly log: DeliveryRecord[] = [];
  readonly errors: Array<DeliveryRecord & { payload: Payload }> = [];
  emitted = 0;

  configure(options: DeliveryOptions): void {
    this.options = { ...options };
  }

  register(reg: EndpointRegistration): Endpoint {
    const ids = reg.businessEventIds ?? CATALOG.map((c) => c.BusinessEventId);
    for (const id of ids) {
      const count = [...this.endpoints.values()].filter((e) =>
        e.businessEventIds.includes(id)
      ).length;
      if (count >= MAX_ENDPOINTS_PER_EVENT)
        throw new Error(`Business event ${id} already has ${MAX_ENDPOINTS_PER_EVENT} endpoints.`);
    }
    const endpoint: Endpoint = {
      id: randomUUID(),
      url: reg.url,
      businessEventIds: ids,
      legalEntity: (reg.legalEntity ?? '').toLowerCase()
    };
    this.endpoints.set(endpoint.id, endpoint);
    // Activation sends a test message to validate the endpoint [MS be-eventgrid].
    this.dispatch(endpoint, this.envelope(TEST_EVENT_ID, endpoint.legalEntity, {}));
    return endpoint;
  }

  unregister(id: string): boolean {
    return this.endpoints.delete(id);
  }

  list(): Endpoint[] {
    return [...this.endpoints.values()];
  }

  private envelope(eventId: string, legalEntity: string, contract: Record<string, Value>): Payload {
    // ControlNumber rises but is not sequential ("there can be gaps", §6.1).
    this.controlNumber += 1 + (this.emitted % 3);
    this.emitted++;
    const now = new Date();
    const fields: Payload = {
      BusinessEventId: eventId,
      BusinessEventLegalEntity: legalEntity,
      ContextRecordSubject: '',
      ControlNumber: this.controlNumber,
      EventId: randomUUID().toUpperCase(),
      EventTime: `/Date(${now.getTime()})/`,
      EventTimeIso8601: now.toISOString().replace(/\.(\d{3})Z$/, '.$10000Z'),
      InitiatingUserAADObjectId: '{00000000-0000-0000-0000-000000000000}',
      MajorVersion: 0,
      MinorVersion: 0,
      ParentContextRecordSubjects: []
    };
    for (const [k, v] of Object.entries(contract)) {
      fields[k] = typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v) ? wcfDate(v) : v;
    }
    // DataContract serialisation orders members alphabetically (§6.3).
    return Object.fromEntries(
      Object.keys(fields)
        .sort()
        .map((k) => [k, fields[k]])
    );
  }

  /** Called by the domain after a posting commits. */
  emit(eventId: string, legalEntity: string, contract: Record<string, Value>): void {
    const targets = [...this.endpoints.values()].filter(
      (e) =>
        e.businessEventIds.includes(eventId) &&
        (e.legalEntity === '' || e.legalEntity === legalEntity)
    );
    if (targets.length === 0) {
      this.envelope(eventId, legalEntity, contract);
      return;
    }
    const payload = this.envelope(eventId, legalEntity, contract);
    for (const endpoint of targets) this.dispatch(endpoint, payload);
  }

  private dispatch(endpoint: Endpoint, payload: Payload): void {
    const copies = this.options.duplicateRate && Math.random() < this.options.duplicateRate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      if (this.options.reorderWindowMs) {
        this.buffer.push({ endpoint, payload });
        this.flushTimer ??= setTimeout(() => this.flush(), this.options.reorderWindowMs);
      } else this.enqueue(endpoint, payload);
    }
  }

  private flush(): void {
    this.flushTimer = undefined;
    const batch = this.buffer.reverse();
    this.buffer = [];
    for (const { endpoint, payload } of batch) this.enqueue(endpoint, payload);
  }

  /**
   * One delivery at a time per endpoint, in the order queued: a failing event holds back the
   * ones behind it while it is retried, and reordering is exactly what the buffer decided.
   */
  private enqueue(endpoint: Endpoint, payload: Payload): void {
    const previous = this.chains.get(endpoint.id) ?? Promise.resolve();
    const next = previous.then(() => this.deliver(endpoint, payload));
    this.chains.set(endpoint.id, next);
    this.pending.add(next);
    void next.finally(() => {
      this.pending.delete(next);
      if (this.chains.get(endpoint.id) === next) this.chains.delete(endpoint.id);
    });
  }

  private async deliver(endpoint: Endpoint, payload: Payload): Promise<void> {
    const retryCount = this.options.retryCount ?? DELIVERY_DEFAULTS.retryCount;
    const retryDelayMs = this.options.retryDelayMs ?? DELIVERY_DEFAULTS.retryDelayMs;
    const timeoutMs = this.options.timeoutMs ?? DELIVERY_DEFAULTS.timeoutMs;
    const body = JSON.stringify(payload);
    let lastError = '';
    for (let attempt = 1; attempt <= retryCount + 1; attempt++) {
      try {
        const res = await fetch(endpoint.url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body,
          signal: AbortSignal.timeout(timeoutMs)
        });
        await res.arrayBuffer();
        if (res.ok) {
          this.log.push({
            endpointId: endpoint.id,
            businessEventId: String(payload.BusinessEventId),
            controlNumber: Number(payload.ControlNumber),
            attempts: attempt,
            status: 'delivered'
          });
          return;
        }
        lastError = `HTTP ${res.status}`;
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
      }
      if (attempt <= retryCount) await new Promise((r) => setTimeout(r, retryDelayMs));
    }
    const record: DeliveryRecord = {
      endpointId: endpoint.id,
      businessEventId: String(payload.BusinessEventId),
      controlNumber: Number(payload.ControlNumber),
      attempts: retryCount + 1,
      status: 'failed',
      lastError: `Unable to send event to endpoint. Exception message: ${lastError}`
    };
    this.log.push(record);
    // After all retries the event lands in the error log, from where it can be resent [MS be-home].
    this.errors.push({ ...record, payload });
  }

  /** Resends a failed event from the error log. */
  resend(controlNumber: number): boolean {
    const i = this.errors.findIndex((e) => e.controlNumber === controlNumber);
    if (i < 0) return false;
    const [failed] = this.errors.splice(i, 1);
    const endpoint = this.endpoints.get(failed!.endpointId);
    if (!endpoint) return false;
    this.enqueue(endpoint, failed!.payload);
    return true;
  }

  /** Resolves when every delivery started so far has finished (tests). */
  async settled(): Promise<void> {
    while (this.pending.size > 0 || this.flushTimer) {
      if (this.flushTimer) await new Promise((r) => setTimeout(r, 5));
      else await Promise.allSettled([...this.pending]);
    }
  }

  reset(): void {
    this.endpoints.clear();
    this.options = {};
    this.buffer = [];
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.log.length = 0;
    this.errors.length = 0;
    this.chains.clear();
  }
}
