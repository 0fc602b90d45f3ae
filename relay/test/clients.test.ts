import { describe, expect, it } from 'vitest';
import { d365ClientOptions, salesforceClientOptions } from '../src/clients.ts';
import { loadConfig } from '../src/config/load.ts';
import { ConfigError } from '../src/errors.ts';
import { silentLogger } from './helpers.ts';

const base = {
  RELAY_ADMIN_TOKEN: 'admin-token-0123456789',
  RELAY_CALLOUT_KEY: 'callout-key-0123456789',
  RELAY_BUSINESS_EVENTS_SECRET: 'business-events-0123456789'
};
const values = (env: Record<string, string>) =>
  loadConfig({ env: { ...base, ...env }, cwd: '/nonexistent' }).values;

describe('client options from configuration', () => {
  it('maps the D365 keys and derives nothing the client defaults itself', () => {
    const options = d365ClientOptions(
      values({
        D365_ENVIRONMENT_URL: 'https://contoso.operations.dynamics.com',
        D365_TENANT_ID: 'tenant',
        D365_CLIENT_ID: 'client',
        D365_CLIENT_SECRET: 'secret',
        D365_MAX_CONCURRENCY: '6'
      }),
      silentLogger
    );
    expect(options).toMatchObject({
      environmentUrl: 'https://contoso.operations.dynamics.com',
      authorityHost: 'https://login.microsoftonline.com',
      maxConcurrency: 6,
      requestTimeoutMs: 30_000
    });
    expect(options.scope).toBeUndefined();
  });

  it('names the first missing D365 key', () => {
    expect(() =>
      d365ClientOptions(values({ D365_ENVIRONMENT_URL: 'https://x.example' }), silentLogger)
    ).toThrow(new ConfigError('D365_TENANT_ID', 'is required to reach D365'));
  });

  it('requires the username and private key for the JWT flow', () => {
    expect(() => salesforceClientOptions(values({ SF_CLIENT_ID: 'c' }), silentLogger)).toThrow(
      'SF_USERNAME: is required for SF_AUTH_FLOW=jwt'
    );
  });

  it('requires the client secret for the client-credentials flow', () => {
    const options = salesforceClientOptions(
      values({
        SF_AUTH_FLOW: 'client_credentials',
        SF_CLIENT_ID: 'c',
        SF_CLIENT_SECRET: 's',
        SF_LOGIN_URL: 'https://acme.my.salesforce.com'
      }),
      silentLogger
    );
    expect(options).toMatchObject({
      authFlow: 'client_credentials',
      clientSecret: 's',
      apiVersion: '62.0',
      apiReservePercent: 10
    });
    expect(options.privateKeyPem).toBeUndefined();
  });

  it('names a CA file that cannot be read', () => {
    expect(() =>
      d365ClientOptions(
        values({
          D365_ENVIRONMENT_URL: 'https://x.example',
          D365_TENANT_ID: 't',
          D365_CLIENT_ID: 'c',
          D365_CLIENT_SECRET: 's',
          D365_CA_CERT_FILE: '/nonexistent/ca.pem'
        }),
        silentLogger
      )
    ).toThrow('D365_CA_CERT_FILE: cannot read /nonexistent/ca.pem');
  });
});
