export { createSalesforceClient } from './client.ts';
export {
  SALESFORCE_COLLECTION_MAX_RECORDS,
  SALESFORCE_COMPOSITE_MAX_SUBREQUESTS
} from './limits.ts';
export type {
  BulkIngestInput,
  BulkValue,
  BulkIngestResult,
  CallOptions,
  CollectionOptions,
  CompositeSubrequest,
  CompositeSubresponse,
  SalesforceClient,
  SalesforceClientOptions,
  SaveResult
} from './client.ts';
export type { SalesforceSession } from './auth.ts';
export type { BudgetState, BudgetStatus } from './budget.ts';
export { soqlList, soqlString } from './soql.ts';
