import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, loadStoreConfig } from '../../src/config/load.ts';
import { CONFIG_KEYS } from '../../src/config/schema.ts';
import { ConfigError } from '../../src/errors.ts';

const secrets = {
  RELAY_ADMIN_TOKEN: 'admin-token-0123456789',
  RELAY_CALLOUT_KEY: 'callout-key-0123456789',
  RELAY_BUSINESS_EVENTS_SECRET: 'business-events-0123456789'
};

function emptyDir(): string {
  return mkdtempSync(join(tmpdir(), 'relay-config-'));
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies documented defaults when only the secrets are set', () => {
    const config = loadConfig({ env: secrets, cwd: emptyDir() });
    expect(config.store.url).toBe('sqlite:.data/relay.db');
    expect(config.store.dlqRetentionDays).toBe(14);
    expect(config.http.port).toBe(8080);
    expect(config.values.SF_API_VERSION).toBe('62.0');
    expect(config.values.D365_DEFAULT_LEGAL_ENTITY).toBe('usmf');
  });

  it('converts numeric environment strings to integers', () => {
    const config = loadConfig({
      env: { ...secrets, RELAY_PORT: '9090', RELAY_WORKER_CONCURRENCY: '3' },
      cwd: emptyDir()
    });
    expect(config.http.port).toBe(9090);
    expect(config.worker.concurrency).toBe(3);
  });

  it('names the key when a value is invalid', () => {
    const err = errorOf(() =>
      loadConfig({ env: { ...secrets, RELAY_PORT: 'eighty' }, cwd: emptyDir() })
    );
    expect(err.key).toBe('RELAY_PORT');
    expect(err.message).toMatch(/^RELAY_PORT: /);
  });

  it('names a missing required secret', () => {
    const err = errorOf(() =>
      loadConfig({ env: { ...secrets, RELAY_CALLOUT_KEY: undefined }, cwd: emptyDir() })
    );
    expect(err.key).toBe('RELAY_CALLOUT_KEY');
    expect(err.message).toContain('is required');
  });

  it('does not echo an invalid secret value', () => {
    const err = errorOf(() =>
      loadConfig({ env: { ...secrets, RELAY_ADMIN_TOKEN: 'short' }, cwd: emptyDir() })
    );
    expect(err.key).toBe('RELAY_ADMIN_TOKEN');
    expect(err.message).not.toContain('short');
  });

  it('rejects a store URL that is neither sqlite: nor postgres://', () => {
    const err = errorOf(() =>
      loadConfig({ env: { ...secrets, RELAY_STORE_URL: 'mysql://x' }, cwd: emptyDir() })
    );
    expect(err.key).toBe('RELAY_STORE_URL');
  });

  it('reads a secret from the file named by <KEY>_FILE', () => {
    const dir = emptyDir();
    writeFileSync(join(dir, 'token'), 'token-from-file-0123456789\n');
    const config = loadConfig({
      env: { ...secrets, RELAY_ADMIN_TOKEN: undefined, RELAY_ADMIN_TOKEN_FILE: 'token' },
      cwd: dir
    });
    expect(config.security.adminToken).toBe('token-from-file-0123456789');
  });

  it('refuses a secret set both directly and through _FILE', () => {
    const err = errorOf(() =>
      loadConfig({ env: { ...secrets, RELAY_ADMIN_TOKEN_FILE: '/dev/null' }, cwd: emptyDir() })
    );
    expect(err.key).toBe('RELAY_ADMIN_TOKEN');
  });

  it('refuses _FILE for a key that is not a secret', () => {
    const err = errorOf(() =>
      loadConfig({ env: { ...secrets, RELAY_PORT_FILE: '/dev/null' }, cwd: emptyDir() })
    );
    expect(err.key).toBe('RELAY_PORT_FILE');
  });

  it('reads config/relay.json and lets the environment override it', () => {
    const dir = emptyDir();
    mkdirSync(join(dir, 'config'));
    writeFileSync(
      join(dir, 'config', 'relay.json'),
      JSON.stringify({ RELAY_PORT: 7000, RELAY_LOG_LEVEL: 'warn' })
    );
    const config = loadConfig({ env: { ...secrets, RELAY_LOG_LEVEL: 'debug' }, cwd: dir });
    expect(config.http.port).toBe(7000);
    expect(config.logLevel).toBe('debug');
  });

  it('refuses a secret written in the JSON file', () => {
    const dir = emptyDir();
    const file = join(dir, 'relay.json');
    writeFileSync(file, JSON.stringify({ D365_CLIENT_SECRET: 'in-the-file' }));
    const err = errorOf(() =>
      loadConfig({ env: { ...secrets, RELAY_CONFIG_FILE: file }, cwd: dir })
    );
    expect(err.key).toBe('D365_CLIENT_SECRET');
    expect(err.message).toContain('_FILE');
  });

  it('refuses an unknown key in the JSON file', () => {
    const dir = emptyDir();
    const file = join(dir, 'relay.json');
    writeFileSync(file, JSON.stringify({ RELAY_PROT: 1 }));
    const err = errorOf(() =>
      loadConfig({ env: { ...secrets, RELAY_CONFIG_FILE: file }, cwd: dir })
    );
    expect(err.key).toBe('RELAY_PROT');
  });

  it('reports a config file that is not JSON', () => {
    const dir = emptyDir();
    const file = join(dir, 'relay.json');
    writeFileSync(file, '{ not json');
    const err = errorOf(() =>
      loadConfig({ env: { ...secrets, RELAY_CONFIG_FILE: file }, cwd: dir })
    );
    expect(err.key).toBe('RELAY_CONFIG_FILE');
  });
});

describe('loadStoreConfig', () => {
  it('reads the store keys without requiring the service secrets', () => {
    const config = loadStoreConfig({
      env: { RELAY_STORE_URL: 'postgres://relay@db/relay' },
      cwd: emptyDir()
    });
    expect(config).toEqual({
      RELAY_STORE_URL: 'postgres://relay@db/relay',
      RELAY_MAX_ATTEMPTS: 10,
      RELAY_LOG_LEVEL: 'info'
    });
  });

  it('names a bad store key', () => {
    const err = errorOf(() =>
      loadStoreConfig({ env: { RELAY_STORE_URL: 'redis://x' }, cwd: emptyDir() })
    );
    expect(err.key).toBe('RELAY_STORE_URL');
  });
});

describe('shipped examples', () => {
  const root = resolve(import.meta.dirname, '../../..');

  it('.env.example lists every configuration key', () => {
    const listed = readFileSync(join(root, '.env.example'), 'utf8')
      .split('\n')
      .map((line) => /^([A-Z0-9_]+)=/.exec(line)?.[1])
      .filter((key): key is string => key !== undefined);
    expect([...listed].sort()).toEqual([...CONFIG_KEYS].sort());
  });

  it('config/relay.example.json is a valid configuration file', () => {
    const config = loadConfig({
      env: { ...secrets, RELAY_CONFIG_FILE: join(root, 'config/relay.example.json') },
      cwd: emptyDir()
    });
    expect(config.values.D365_ENVIRONMENT_URL).toBe('https://contoso.operations.dynamics.com');
  });
});
