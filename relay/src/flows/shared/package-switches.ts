import type { SalesforceClient } from '../../salesforce/index.ts';
import type { Flow } from '../types.ts';

/** The package's settings: one custom metadata record, deployed as `Default`. */
const SETTINGS_TYPE = 'D365_Integration_Setting__mdt';
const SETTINGS_RECORD = 'Default';

/** Decides, before each job, whether its flow may run. */
export interface FlowGate {
  /** Undefined when the flow may run, else why it may not (logged with the skipped job). */
  closedReason(flow: Flow): Promise<string | undefined>;
}

/**
 * The per-flow switches an admin unticks on the package's settings record. For the flows that
 * Salesforce starts, Apex checks them before publishing an event; the flows that D365 or the relay
 * start (products, invoices, payment status) have only this check. A switched-off flow's jobs are
 * skipped, not kept: switched back on, its schedule catches up (products by content hash, payment
 * status on its next run, invoices through the nightly reconciliation).
 *
 * The record is read at most once per `cacheMs` (a SOQL query, one API call); a failed read is not
 * cached and fails the job, which is retried. Without the record (settings not deployed) every flow
 * runs, as the package's own default is every switch on.
 */
export function packageSwitches(options: {
  salesforce: Pick<SalesforceClient, 'query'>;
  flows: readonly Flow[];
  cacheMs: number;
  now?: () => number;
}): FlowGate {
  const now = options.now ?? Date.now;
  const fields = [...new Set(options.flows.flatMap((f) => f.packageSwitch ?? []))];
  let cached: { readAt: number; record: Promise<Record<string, unknown> | undefined> } | undefined;

  async function read(): Promise<Record<string, unknown> | undefined> {
    const soql = `SELECT ${fields.join(', ')} FROM ${SETTINGS_TYPE} WHERE DeveloperName = '${SETTINGS_RECORD}' LIMIT 1`;
    for await (const record of options.salesforce.query<Record<string, unknown>>(soql)) {
      return record;
    }
    return undefined;
  }

  return {
    async closedReason(flow) {
      const field = flow.packageSwitch;
      if (field === undefined) return undefined;
      if (cached === undefined || now() - cached.readAt >= options.cacheMs) {
        const record = read();
        const entry = { readAt: now(), record };
        cached = entry;
        record.catch(() => {
          if (cached === entry) cached = undefined;
        });
      }
      const record = await cached.record;
      return record?.[field] === false
        ? `switched off in Salesforce (${SETTINGS_TYPE}.${SETTINGS_RECORD}.${field})`
        : undefined;
    }
  };
}
