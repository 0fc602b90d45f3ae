import { Type, type Static } from 'typebox';

/**
 * Every configuration key of the relay, flat and named as in the environment. The optional JSON file
 * (`config/relay.json` or RELAY_CONFIG_FILE) uses the same names; keys in {@link SECRET_KEYS} are
 * refused there and come only from the environment or from `<KEY>_FILE`.
 */
const Millis = (defaultValue: number, minimum = 0) =>
  Type.Integer({ minimum, default: defaultValue });
const Secret = Type.String({ minLength: 16 });
const HttpsOrHttpUrl = Type.String({ pattern: '^https?://[^\\s]+$' });

export const ConfigSchema = Type.Object(
  {
    RELAY_HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
    RELAY_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
    // false | true | number of proxy hops | comma-separated proxy addresses/CIDRs (Fastify trustProxy).
    RELAY_TRUST_PROXY: Type.String({
      pattern: '^(true|false|[0-9]{1,2}|[0-9A-Fa-f:./]+(,[0-9A-Fa-f:./]+)*)$',
      default: 'false'
    }),
    RELAY_LOG_LEVEL: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info' }
    ),
    RELAY_STORE_URL: Type.String({
      pattern: '^(sqlite:.+|postgres(ql)?://.+)$',
      default: 'sqlite:.data/relay.db'
    }),
    RELAY_ADMIN_TOKEN: Secret,
    RELAY_CALLOUT_KEY: Secret,
    RELAY_BUSINESS_EVENTS_SECRET: Type.String({
      minLength: 16,
      maxLength: 200,
      pattern: '^[A-Za-z0-9_-]+$'
    }),
    RELAY_DLQ_RETENTION_DAYS: Type.Integer({ minimum: 1, default: 14 }),
    RELAY_INBOX_RETENTION_DAYS: Type.Integer({ minimum: 1, default: 30 }),
    RELAY_WORKER_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 256, default: 8 }),
    RELAY_MAX_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),
    RELAY_SHUTDOWN_GRACE_MS: Millis(10_000),
    RELAY_JOB_LEASE_MS: Millis(60_000, 1_000),
    RELAY_WORKER_POLL_MS: Millis(1_000, 10),
    RELAY_SUBSCRIPTION_LEASE_MS: Millis(30_000, 1_000),
    RELAY_BODY_LIMIT_BYTES: Type.Integer({ minimum: 1_024, default: 1_048_576 }),
    RELAY_RATE_LIMIT_MAX: Type.Integer({ minimum: 1, default: 3_000 }),
    RELAY_RATE_LIMIT_WINDOW_MS: Millis(60_000, 1_000),

    D365_ENVIRONMENT_URL: Type.Optional(HttpsOrHttpUrl),
    D365_TENANT_ID: Type.Optional(Type.String({ minLength: 1 })),
    D365_CLIENT_ID: Type.Optional(Type.String({ minLength: 1 })),
    D365_CLIENT_SECRET: Type.Optional(Type.String({ minLength: 1 })),
    D365_AUTHORITY_HOST: Type.String({
      pattern: '^https?://[^\\s]+$',
      default: 'https://login.microsoftonline.com'
    }),
    D365_SCOPE: Type.Optional(Type.String({ minLength: 1 })),
    D365_CA_CERT_FILE: Type.Optional(Type.String({ minLength: 1 })),
    D365_DEFAULT_LEGAL_ENTITY: Type.String({ pattern: '^[A-Za-z0-9]{1,4}$', default: 'usmf' }),
    D365_REQUEST_TIMEOUT_MS: Millis(30_000, 100),
    D365_MAX_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 64, default: 4 }),
    RELAY_INVENTORY_CACHE_MS: Millis(30_000),
    // Below the package's Callout_Timeout_Ms__c default (10,000 ms), so Apex gets an answer, not a timeout.
    RELAY_INVENTORY_DEADLINE_MS: Millis(8_000, 100),

    SF_LOGIN_URL: Type.String({
      pattern: '^https?://[^\\s]+$',
      default: 'https://login.salesforce.com'
    }),
    SF_AUTH_FLOW: Type.Union([Type.Literal('jwt'), Type.Literal('client_credentials')], {
      default: 'jwt'
    }),
    SF_CLIENT_ID: Type.Optional(Type.String({ minLength: 1 })),
    SF_USERNAME: Type.Optional(Type.String({ minLength: 1 })),
    SF_PRIVATE_KEY: Type.Optional(Type.String({ pattern: '-----BEGIN [A-Z ]*PRIVATE KEY-----' })),
    SF_CLIENT_SECRET: Type.Optional(Type.String({ minLength: 1 })),
    SF_API_VERSION: Type.String({ pattern: '^[0-9]{2,3}\\.0$', default: '62.0' }),
    SF_PUBSUB_ENDPOINT: Type.String({
      pattern: '^[^\\s:/]+:[0-9]{1,5}$',
      default: 'api.pubsub.salesforce.com:7443'
    }),
    SF_CA_CERT_FILE: Type.Optional(Type.String({ minLength: 1 })),
    SF_PUBSUB_CA_FILE: Type.Optional(Type.String({ minLength: 1 })),
    SF_API_RESERVE_PERCENT: Type.Integer({ minimum: 0, maximum: 90, default: 10 }),
    SF_PUBSUB_SILENCE_TIMEOUT_MS: Millis(300_000, 1_000),
    // The package's per-flow switches are read at most this often (one SOQL query each time).
    RELAY_PACKAGE_SWITCHES_CACHE_MS: Millis(60_000),
    SF_REQUEST_TIMEOUT_MS: Millis(30_000, 100),
    // Products and prices flow, D365 → Salesforce (src/flows/products/README.md).
    PRODUCTS_SYNC_CRON: Type.String({ minLength: 3, default: '0 * * * *' }),
    PRODUCTS_LEGAL_ENTITY: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9]{1,4}$' })),
    PRODUCTS_CURRENCIES: Type.String({ pattern: '^[A-Z]{3}(,[A-Z]{3})*$', default: 'USD' }),
    // `<name>|<item 20>|<currency 3>` must fit D365_Price_Key__c Text(100); '' = standard price book only.
    PRODUCTS_PRICE_BOOK: Type.String({ maxLength: 75, pattern: '^[^|]*$', default: 'D365 Prices' }),
    PRODUCTS_PRICE_GROUPS: Type.String({ pattern: '^[^|]*$', default: '' }),
    PRODUCTS_UNIT_MAP: Type.String({ default: 'ea=Each,pcs=Each' }),
    PRODUCTS_MULTI_CURRENCY: Type.Boolean({ default: false }),
    PRODUCTS_BULK_THRESHOLD: Type.Integer({ minimum: 1, default: 1_000 }),
    // Account and contact flows (src/flows/account/README.md, src/flows/contact/README.md).
    D365_DEFAULT_CUSTOMER_GROUP: Type.String({ pattern: '^[A-Za-z0-9_-]{1,10}$', default: '30' }),
    ACCOUNT_BULK_THRESHOLD: Type.Integer({ minimum: 1, default: 1_000 }),
    ACCOUNT_FIELD_OWNERSHIP: Type.String({
      pattern:
        '^((creditLimit|customerGroup|onHold):(d365|salesforce))?(,(creditLimit|customerGroup|onHold):(d365|salesforce))*$',
      default: 'creditLimit:d365,customerGroup:d365,onHold:d365'
    }),
    // Pull of the D365-owned account fields; "off" disables it.
    ACCOUNT_PULL_CRON: Type.String({ minLength: 3, default: '*/15 * * * *' }),
    // Invoice and payment flows (src/flows/invoice/README.md, src/flows/payment/README.md).
    INVOICE_RECONCILE_CRON: Type.String({ minLength: 3, default: '30 2 * * *' }),
    INVOICE_RECONCILE_DAYS: Type.Integer({ minimum: 1, maximum: 366, default: 7 }),
    PAYMENT_STATUS_CRON: Type.String({ minLength: 3, default: '0 * * * *' }),
    ORDER_STATUS_CRON: Type.String({ minLength: 3, default: '30 * * * *' }),
    PAYMENT_BULK_THRESHOLD: Type.Integer({ minimum: 1, default: 2_000 })
  },
  { additionalProperties: false }
);

export type ConfigValues = Static<typeof ConfigSchema>;
export type ConfigKey = keyof ConfigValues;

/** Keys whose values are credentials: never read from the JSON file, never logged, never returned. */
export const SECRET_KEYS = [
  'RELAY_ADMIN_TOKEN',
  'RELAY_CALLOUT_KEY',
  'RELAY_BUSINESS_EVENTS_SECRET',
  'D365_CLIENT_SECRET',
  'SF_PRIVATE_KEY',
  'SF_CLIENT_SECRET'
] as const satisfies readonly ConfigKey[];

export const CONFIG_KEYS = Object.keys(ConfigSchema.properties) as ConfigKey[];
