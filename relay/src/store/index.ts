import { PostgresStore } from './postgres-store.ts';
import { SqliteStore } from './sqlite-store.ts';
import type { Store, StoreOptions } from './types.ts';

export type * from './types.ts';

/** Opens the store named by RELAY_STORE_URL: `sqlite:<path>` (embedded) or `postgres://…`. */
export function openStore(url: string, options: StoreOptions & { schema?: string } = {}): Store {
  if (url.startsWith('sqlite:')) return new SqliteStore(url.slice('sqlite:'.length), options);
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    return new PostgresStore(url, options);
  }
  throw new Error(`Unsupported store URL scheme: ${url.split(':')[0] ?? ''}`);
}
