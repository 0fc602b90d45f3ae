export { createD365Client } from './client.ts';
export type {
  D365Client,
  D365ClientOptions,
  DmfExecutionStatus,
  DmfExportInput,
  DmfExportResult,
  DmfImportInput,
  DmfImportResult,
  EntityKey,
  ReadOptions,
  WriteOptions
} from './client.ts';
export type { BatchItem, BatchItemResult, BatchOperation, BatchResponse } from './batch.ts';
export { D365_MAX_BATCH_OPERATIONS } from './batch.ts';
export { enumValue, filter, odataLiteral, entityKey, entityPath } from './odata.ts';
export type { EnumValue, Filter, ODataValue, QueryOptions } from './odata.ts';
