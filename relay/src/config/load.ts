import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Type, type Static, type TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { ConfigError } from '../errors.ts';
import {
  CONFIG_KEYS,
  ConfigSchema,
  SECRET_KEYS,
  type ConfigKey,
  type ConfigValues
} from './schema.ts';

export const DEFAULT_CONFIG_FILE = 'config/relay.json';

export interface RelayConfig {
  http: {
    host: string;
    port: number;
    trustProxy: boolean | number | string;
    bodyLimitBytes: number;
    rateLimitMax: number;
    rateLimitWindowMs: number;
  };
  logLevel: ConfigValues['RELAY_LOG_LEVEL'];
  store: { url: string; dlqRetentionDays: number; inboxRetentionDays: number };
  worker: {
    concurrency: number;
    maxAttempts: number;
    leaseMs: number;
    pollMs: number;
    subscriptionLeaseMs: number;
  };
  shutdownGraceMs: number;
  security: { adminToken: string; calloutKey: string; businessEventsSecret: string };
  /** The flat, validated values: client options are derived from them in `clients.ts`. */
  values: ConfigValues;
}

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv;
  /** Directory the default config file and relative `*_FILE` paths resolve against. */
  cwd?: string;
}

const isSecret = (key: string): boolean => (SECRET_KEYS as readonly string[]).includes(key);

/**
 * Reads the environment and the optional JSON file, validates them against one schema and returns the
 * typed configuration. Throws {@link ConfigError} naming the first bad key.
 */
export function loadConfig(options: LoadConfigOptions = {}): RelayConfig {
  const raw = readRawConfig(options);
  const converted = Value.Default(ConfigSchema, Value.Convert(ConfigSchema, raw));
  if (!Value.Check(ConfigSchema, converted)) throw firstError(ConfigSchema, converted);
  const values = converted as ConfigValues;
  return {
    http: {
      host: values.RELAY_HOST,
      port: values.RELAY_PORT,
      trustProxy: parseTrustProxy(values.RELAY_TRUST_PROXY),
      bodyLimitBytes: values.RELAY_BODY_LIMIT_BYTES,
      rateLimitMax: values.RELAY_RATE_LIMIT_MAX,
      rateLimitWindowMs: values.RELAY_RATE_LIMIT_WINDOW_MS
    },
    logLevel: values.RELAY_LOG_LEVEL,
    store: {
      url: values.RELAY_STORE_URL,
      dlqRetentionDays: values.RELAY_DLQ_RETENTION_DAYS,
      inboxRetentionDays: values.RELAY_INBOX_RETENTION_DAYS
    },
    worker: {
      concurrency: values.RELAY_WORKER_CONCURRENCY,
      maxAttempts: values.RELAY_MAX_ATTEMPTS,
      leaseMs: values.RELAY_JOB_LEASE_MS,
      pollMs: values.RELAY_WORKER_POLL_MS,
      subscriptionLeaseMs: values.RELAY_SUBSCRIPTION_LEASE_MS
    },
    shutdownGraceMs: values.RELAY_SHUTDOWN_GRACE_MS,
    security: {
      adminToken: values.RELAY_ADMIN_TOKEN,
      calloutKey: values.RELAY_CALLOUT_KEY,
      businessEventsSecret: values.RELAY_BUSINESS_EVENTS_SECRET
    },
    values
  };
}

const STORE_KEYS = ['RELAY_STORE_URL', 'RELAY_MAX_ATTEMPTS', 'RELAY_LOG_LEVEL'] as const;
const StoreConfigSchema = Type.Pick(ConfigSchema, STORE_KEYS);
export type StoreConfig = Static<typeof StoreConfigSchema>;

/**
 * Only the keys the operator CLI needs to reach the store (same sources and rules as
 * {@link loadConfig}), so `relay migrate` or `relay dlq list` run without the service's secrets.
 */
export function loadStoreConfig(options: LoadConfigOptions = {}): StoreConfig {
  const raw = readRawConfig(options);
  const picked = Object.fromEntries(STORE_KEYS.filter((k) => k in raw).map((k) => [k, raw[k]]));
  const converted = Value.Default(StoreConfigSchema, Value.Convert(StoreConfigSchema, picked));
  if (!Value.Check(StoreConfigSchema, converted)) throw firstError(StoreConfigSchema, converted);
  return converted as StoreConfig;
}

/** Environment over file; `<KEY>_FILE` for secrets. Unvalidated, keyed by config key. */
function readRawConfig(options: LoadConfigOptions): Record<string, unknown> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const raw: Record<string, unknown> = { ...readConfigFile(env, cwd) };
  for (const key of CONFIG_KEYS) {
    const fromEnv = nonEmpty(env[key]);
    const fileKey = `${key}_FILE`;
    const fromFile = nonEmpty(env[fileKey]);
    if (fromEnv !== undefined && fromFile !== undefined) {
      throw new ConfigError(key, `set either ${key} or ${fileKey}, not both`);
    }
    if (fromFile !== undefined) {
      if (!isSecret(key)) throw new ConfigError(fileKey, 'only secrets can be read from files');
      raw[key] = readTextFile(fileKey, resolve(cwd, fromFile));
    } else if (fromEnv !== undefined) {
      raw[key] = fromEnv;
    }
  }
  return raw;
}

function parseTrustProxy(value: string): boolean | number | string {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^[0-9]+$/.test(value)) return Number(value);
  return value;
}

function readConfigFile(env: NodeJS.ProcessEnv, cwd: string): Record<string, unknown> {
  const explicit = nonEmpty(env.RELAY_CONFIG_FILE);
  const path = resolve(cwd, explicit ?? DEFAULT_CONFIG_FILE);
  if (explicit === undefined && !existsSync(path)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readTextFile('RELAY_CONFIG_FILE', path));
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError('RELAY_CONFIG_FILE', `${path} is not valid JSON`, { cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError('RELAY_CONFIG_FILE', `${path} must hold a JSON object`);
  }
  for (const key of Object.keys(parsed)) {
    if (!(CONFIG_KEYS as string[]).includes(key)) {
      throw new ConfigError(key, `is not a configuration key (in ${path})`);
    }
    if (isSecret(key)) {
      throw new ConfigError(
        key,
        `is a secret: set it in the environment or through ${key}_FILE, not in ${path}`
      );
    }
  }
  return parsed as Record<string, unknown>;
}

function readTextFile(key: string, path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(key, `cannot read ${path}`, { cause: err });
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function firstError(schema: TSchema, value: unknown): ConfigError {
  // A wrong value the operator did set is more useful to report than a key still missing.
  const errors = [...Value.Errors(schema, value)];
  const error = errors.find((e) => e.keyword !== 'required') ?? errors[0];
  if (error === undefined) return new ConfigError('config', 'is invalid');
  if (error.keyword === 'required') {
    const missing = (error.params as { requiredProperties?: string[] }).requiredProperties ?? [];
    return new ConfigError(missing[0] ?? 'config', 'is required');
  }
  const key = error.instancePath.split('/')[1] ?? 'config';
  // Never echo a secret's value back in the error.
  return new ConfigError(key, isSecret(key) ? 'is invalid' : error.message);
}

export type { ConfigKey };
