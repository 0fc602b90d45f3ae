/**
 * Batched look-up of the Account (by D365 customer number) and of the existing `Invoice__c` (by key)
 * for concurrent invoice jobs: one SOQL query answers many jobs instead of one query each, which
 * matters for the Salesforce daily API budget when D365 posts invoices in runs.
 */

import { soqlList } from '../../salesforce/soql.ts';
import type { SalesforceClient } from '../../salesforce/index.ts';

const DEFAULT_MAX_WAIT_MS = 10;
/**
 * Customers per query: 100 numbers and their invoice keys keep the statement near 8,000 characters,
 * far below SOQL's 100,000-character limit.
 */
const MAX_CUSTOMERS_PER_QUERY = 100;
/** Invoice keys (≤ 40 characters each) per query, for the same reason. */
const MAX_INVOICES_PER_QUERY = 500;

export interface ExistingInvoice {
  Id: string;
  D365_Modified_At__c: string | null;
}

export interface AccountMatch {
  accountId: string;
  existing: ExistingInvoice | null;
}

export interface AccountLookup {
  /** The account of the customer and its invoice with this key; null when no account has the number. */
  find(customerNumber: string, invoiceKey: string): Promise<AccountMatch | null>;
}

interface Pending {
  customerNumber: string;
  invoiceKey: string;
  resolve(match: AccountMatch | null): void;
  reject(error: unknown): void;
}

interface AccountRow {
  Id: string;
  D365_Customer_Number__c: string;
  Invoices__r: {
    records: Array<ExistingInvoice & { D365_Invoice_Key__c: string }>;
  } | null;
}

export function createAccountLookup(
  salesforce: Pick<SalesforceClient, 'query'>,
  options: { maxWaitMs?: number } = {}
): AccountLookup {
  const maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  let queue: Pending[] = [];
  let timer: NodeJS.Timeout | null = null;

  const customersIn = (items: readonly Pending[]) =>
    new Set(items.map((p) => p.customerNumber.toUpperCase())).size;

  function flush(): void {
    if (timer) clearTimeout(timer);
    timer = null;
    const batch = queue;
    queue = [];
    if (batch.length > 0) void run(batch);
  }

  async function run(batch: Pending[]): Promise<void> {
    const customers = [...new Set(batch.map((p) => p.customerNumber))];
    const keys = [...new Set(batch.map((p) => p.invoiceKey))];
    const accounts = new Map<string, AccountRow>();
    try {
      for await (const row of salesforce.query<AccountRow>(
        `SELECT Id, D365_Customer_Number__c, (SELECT Id, D365_Invoice_Key__c, D365_Modified_At__c FROM Invoices__r WHERE D365_Invoice_Key__c IN ${soqlList(keys)}) ` +
          `FROM Account WHERE D365_Customer_Number__c IN ${soqlList(customers)}`
      )) {
        // D365_Customer_Number__c is unique and case-insensitive (docs/contracts.md).
        accounts.set(row.D365_Customer_Number__c.toUpperCase(), row);
      }
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    for (const pending of batch) {
      const account = accounts.get(pending.customerNumber.toUpperCase());
      if (!account) {
        pending.resolve(null);
        continue;
      }
      const invoice = account.Invoices__r?.records.find(
        (r) => r.D365_Invoice_Key__c.toLowerCase() === pending.invoiceKey.toLowerCase()
      );
      pending.resolve({
        accountId: account.Id,
        existing: invoice
          ? { Id: invoice.Id, D365_Modified_At__c: invoice.D365_Modified_At__c }
          : null
      });
    }
  }

  return {
    find(customerNumber, invoiceKey) {
      return new Promise<AccountMatch | null>((resolve, reject) => {
        queue.push({ customerNumber, invoiceKey, resolve, reject });
        if (queue.length >= MAX_INVOICES_PER_QUERY || customersIn(queue) >= MAX_CUSTOMERS_PER_QUERY)
          flush();
        else timer ??= setTimeout(flush, maxWaitMs);
      });
    }
  };
}

const shared = new WeakMap<object, AccountLookup>();

/** One look-up per Salesforce client, so all invoice jobs of a relay share its queries. */
export function accountLookupFor(salesforce: Pick<SalesforceClient, 'query'>): AccountLookup {
  let lookup = shared.get(salesforce);
  if (!lookup) {
    lookup = createAccountLookup(salesforce);
    shared.set(salesforce, lookup);
  }
  return lookup;
}
