import type { Store, StoreOptions } from './types.ts';

export type * from './types.ts';

/**
 * Opens the store named by RELAY_STORE_URL: `sqlite:<path>` (embedded) or `postgres://…`. Each
 * backend's driver is loaded only when used, which keeps the embedded relay's cold start short.
 */
export async function openStore(
  url: string,
  options: StoreOptions & { schema?: string } = {}
): Promise<Store> {
  if (url.startsWith('sqlite:')) {
    const { SqliteStore } = await import('./sqlite-store.ts');
    return new SqliteStore(url.slice('sqlite:'.length), options);
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const { PostgresStore } = await import('./postgres-store.ts');
    return new PostgresStore(url, options);
  }
  throw new Error(`Unsupported store URL scheme: ${url.split(':')[0] ?? ''}`);
}
