import type { Logger } from 'pino';
import type { RelayClients } from '../clients.ts';
import type { ConfigValues } from '../config/schema.ts';
import type { Store } from '../store/types.ts';

/** What a flow handler gets besides its payload. */
export interface FlowContext {
  jobId: number;
  /** 1-based attempt number of this run. */
  attempt: number;
  maxAttempts: number;
  idempotencyKey: string;
  /** Carried from the source event; pass it to every downstream request. */
  correlationId: string;
  logger: Logger;
  /** Aborted when the relay stops and the shutdown grace period is over. */
  signal: AbortSignal;
  store: Store;
  clients: RelayClients;
  /** The relay's validated configuration (flow settings); absent when a test runs a worker without one. */
  config?: ConfigValues;
}

/**
 * A handler either finishes (returning nothing or `done`), decides the work does not apply
 * (`skipped`, with a status for logs and metrics), or throws: a retryable `ClientError` (or any
 * unexpected error) is retried with backoff, a permanent one dead-letters the job.
 */
export type FlowOutcome = { status: 'done' } | { status: 'skipped'; reason: string };

export interface Flow {
  /** Lower-case, stable: stored in jobs, dead letters, ledger rows and metric labels. */
  name: string;
  /** Overrides RELAY_MAX_ATTEMPTS for this flow. */
  maxAttempts?: number;
  /** D365 business event ids (X++ class names) whose events this flow processes. */
  businessEvents?: readonly string[];
  /** Salesforce Pub/Sub topics (e.g. `/event/D365_Account_Sync__e`) whose events it processes. */
  topics?: readonly string[];
  /**
   * The checkbox on the package's settings record (`D365_Integration_Setting__mdt`) that switches the
   * flow off, for flows Salesforce does not start itself; checked before each job
   * (shared/package-switches.ts).
   */
  packageSwitch?: string;
  handle(payload: unknown, context: FlowContext): Promise<FlowOutcome | void>;
}
