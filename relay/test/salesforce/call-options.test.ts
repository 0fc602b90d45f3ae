import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSalesforceClient } from '../../src/salesforce/index.ts';
import { silentLogger } from './helpers.ts';

// The Salesforce emulator does not record request headers, so this one header is checked at the HTTP boundary.
let server: Server;
let baseUrl: string;
const seen: IncomingHttpHeaders[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    seen.push(request.headers);
    response.setHeader('Content-Type', 'application/json');
    if (request.url === '/services/oauth2/token') {
      response.end(
        JSON.stringify({
          access_token: '00D000000000001!token',
          instance_url: baseUrl,
          id: `${baseUrl}/id/00D000000000001AAA/005000000000001AAA`,
          token_type: 'Bearer'
        })
      );
      return;
    }
    response.setHeader('Sforce-Limit-Info', 'api-usage=42/1000');
    response.end(JSON.stringify({ DailyApiRequests: { Max: 1000, Remaining: 958 } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('Salesforce request headers', () => {
  it('names the relay in Sforce-Call-Options on REST calls and reports the API budget it reads', async () => {
    const budgets: Array<{ used: number; max: number }> = [];
    const client = createSalesforceClient({
      loginUrl: baseUrl,
      authFlow: 'client_credentials',
      clientId: 'id',
      clientSecret: 'secret',
      callOptionsClient: 'd365-relay',
      logger: silentLogger,
      observer: { apiBudget: (e) => budgets.push(e) }
    });
    try {
      await client.request('GET', '/limits');
      expect(seen.at(-1)?.['sforce-call-options']).toBe('client=d365-relay');
      expect(seen.at(-1)?.authorization).toBe('Bearer 00D000000000001!token');
      expect(budgets).toEqual([{ used: 42, max: 1000 }]);
    } finally {
      await client.close();
    }
  });
});
