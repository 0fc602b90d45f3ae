import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres-store.ts';
import { SqliteStore } from '../../src/store/sqlite-store.ts';
import type { Store } from '../../src/store/types.ts';

export const POSTGRES_URL =
  process.env.RELAY_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Why the PostgreSQL suite is skipped, or null when a server answers. */
export async function postgresUnavailableReason(): Promise<string | null> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (err) {
    return `no PostgreSQL answers at ${POSTGRES_URL} (${(err as Error).message})`;
  } finally {
    await client.end().catch(() => {});
  }
}

export interface TestStore {
  store: Store;
  /** The PostgreSQL schema of this store (undefined on SQLite). */
  schema?: string;
  dispose(): Promise<void>;
}

/** A migrated, empty store on its own SQLite file or its own PostgreSQL schema. */
export async function openTestStore(
  backend: 'sqlite' | 'postgres',
  now: () => number,
  /** Join an existing PostgreSQL schema (another replica) instead of creating one. */
  existingSchema?: string
): Promise<TestStore> {
  if (backend === 'sqlite') {
    const store = new SqliteStore(':memory:', { now });
    await store.migrate();
    return { store, dispose: () => store.close() };
  }
  const schema = existingSchema ?? `relay_test_${randomUUID().replaceAll('-', '')}`;
  const store = new PostgresStore(POSTGRES_URL, { now, schema, poolSize: 4 });
  await store.migrate();
  return {
    store,
    schema,
    async dispose() {
      await store.close();
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    }
  };
}
