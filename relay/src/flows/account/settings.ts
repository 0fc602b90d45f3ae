import type { ConfigValues } from '../../config/schema.ts';
import { parseFieldOwnership, type FieldOwnership } from './mapping.ts';

export const ACCOUNT_FLOW = 'accounts';

export interface AccountSettings {
  customerGroup: string;
  defaultLegalEntity: string;
  bulkThreshold: number;
  ownership: FieldOwnership;
  /** Cron of the D365-owned fields pull, or null when off. */
  pullCron: string | null;
}

/** Defaults as in config/schema.ts, for handlers run without a relay configuration (unit tests). */
export function accountSettings(config: Partial<ConfigValues> | undefined): AccountSettings {
  const cron = config?.ACCOUNT_PULL_CRON ?? '*/15 * * * *';
  return {
    customerGroup: config?.D365_DEFAULT_CUSTOMER_GROUP ?? '30',
    defaultLegalEntity: (config?.D365_DEFAULT_LEGAL_ENTITY ?? 'usmf').toLowerCase(),
    bulkThreshold: config?.ACCOUNT_BULK_THRESHOLD ?? 1_000,
    ownership: parseFieldOwnership(config?.ACCOUNT_FIELD_OWNERSHIP ?? ''),
    pullCron: cron.trim().toLowerCase() === 'off' ? null : cron
  };
}
