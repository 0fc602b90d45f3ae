import {
  ConfidentialClientApplication,
  type INetworkModule,
  type NetworkRequestOptions,
  type NetworkResponse
} from '@azure/msal-node';
import { request } from 'node:https';
import { decodeJwt, importJWK, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, type D365Emulator } from '../index.ts';
import { httpClient, tokenFor, type HttpClient } from './helpers.ts';

let emu: D365Emulator;
let http: HttpClient;

beforeAll(async () => {
  emu = await start({ seed: 'empty' });
  http = httpClient(emu);
});
afterAll(async () => {
  http.agent.destroy();
  await emu.close();
});

function tokenRequest(fields: Record<string, string>) {
  return http.send(
    'POST',
    `/${emu.tenantId}/oauth2/v2.0/token`,
    new URLSearchParams(fields).toString(),
    {
      'content-type': 'application/x-www-form-urlencoded'
    }
  );
}

const valid = () => ({
  grant_type: 'client_credentials',
  client_id: emu.clientId,
  client_secret: emu.clientSecret,
  scope: `${emu.url}/.default`
});

/** msal-node network module over node:https that trusts the emulator's certificate. */
function networkClient(ca: string): INetworkModule {
  const send = <T>(
    method: string,
    url: string,
    options?: NetworkRequestOptions
  ): Promise<NetworkResponse<T>> =>
    new Promise((resolve, reject) => {
      const req = request(url, { method, ca, headers: options?.headers ?? {} }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString('utf8')));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers as Record<string, string>,
            body: JSON.parse(body) as T
          })
        );
      });
      req.on('error', reject);
      if (options?.body) req.write(options.body);
      req.end();
    });
  return {
    sendGetRequestAsync: (url, options) => send('GET', url, options),
    sendPostRequestAsync: (url, options) => send('POST', url, options)
  };
}

describe('Entra token endpoint', () => {
  it('issues a bearer token for client credentials with the environment scope', async () => {
    const r = await tokenRequest(valid());
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ token_type: 'Bearer', expires_in: 3599 });
  });

  it('issues an RS256 JWT whose aud is the environment URL and which carries tid, appid and roles', async () => {
    const claims = decodeJwt(await tokenFor(emu, http));
    expect(claims).toMatchObject({
      aud: emu.url,
      tid: emu.tenantId,
      appid: emu.clientId,
      roles: []
    });
    expect(claims.iss).toBe(`${emu.url}/${emu.tenantId}/`);
    expect(Number(claims.exp)).toBeGreaterThan(Date.now() / 1000);
  });

  it('publishes a JWKS that verifies the token signature', async () => {
    const token = await tokenFor(emu, http);
    const jwks = (await http.send('GET', `/${emu.tenantId}/discovery/v2.0/keys`)).json() as {
      keys: Array<Record<string, string>>;
    };
    const key = await importJWK(jwks.keys[0]!, 'RS256');
    await expect(jwtVerify(token, key)).resolves.toBeTruthy();
  });

  it('answers a wrong client secret with 401 invalid_client and AADSTS7000215', async () => {
    const r = await tokenRequest({ ...valid(), client_secret: 'wrong' });
    expect(r.status).toBe(401);
    expect(r.json().error).toBe('invalid_client');
    expect(String(r.json().error_description)).toMatch(
      /^AADSTS7000215: Invalid client secret provided/
    );
  });

  it('answers an unknown client id with 400 unauthorized_client and AADSTS700016', async () => {
    const r = await tokenRequest({ ...valid(), client_id: '00000000-0000-0000-0000-000000000001' });
    expect(r.status).toBe(400);
    expect(r.json()).toMatchObject({ error: 'unauthorized_client', error_codes: [700016] });
  });

  it('answers a scope without /.default with 400 invalid_scope and AADSTS1002012', async () => {
    const r = await tokenRequest({ ...valid(), scope: `${emu.url}/user_impersonation` });
    expect(r.status).toBe(400);
    expect(r.json()).toMatchObject({ error: 'invalid_scope', error_codes: [1002012] });
  });

  it('answers a scope for another resource with 400 invalid_resource and AADSTS500011', async () => {
    const r = await tokenRequest({
      ...valid(),
      scope: 'https://other.operations.dynamics.com/.default'
    });
    expect(r.status).toBe(400);
    expect(r.json()).toMatchObject({ error: 'invalid_resource', error_codes: [500011] });
  });

  it('answers an unknown tenant with AADSTS90002', async () => {
    const r = await http.send(
      'POST',
      '/not-a-tenant/oauth2/v2.0/token',
      new URLSearchParams(valid()).toString(),
      {
        'content-type': 'application/x-www-form-urlencoded'
      }
    );
    expect(r.status).toBe(400);
    expect(r.json().error_codes).toEqual([90002]);
  });
});

describe('token endpoint faults', () => {
  it('answers a scripted token-endpoint outage once, then issues tokens again', async () => {
    emu.control.queueFaults([{ kind: 'status', status: 503, retryAfter: 3, target: 'token' }]);
    const failed = await tokenRequest(valid());
    expect(failed.status).toBe(503);
    expect(failed.headers['retry-after']).toBe('3');
    expect(failed.json().error).toBe('temporarily_unavailable');
    expect((await tokenRequest(valid())).status).toBe(200);
  });

  it('leaves /data untouched by faults scripted for the token endpoint', async () => {
    const token = await tokenFor(emu, http);
    emu.control.queueFaults([{ kind: 'drop', target: 'token' }]);
    expect(
      (
        await http.send('GET', '/data/LegalEntities', undefined, {
          authorization: `Bearer ${token}`
        })
      ).status
    ).toBe(200);
    await expect(tokenRequest(valid())).rejects.toThrow(/socket hang up|ECONNRESET/);
  });
});

describe('bearer check on /data', () => {
  it('refuses a request without a token with 401', async () => {
    expect((await http.send('GET', '/data/CustomersV3')).status).toBe(401);
  });

  it('refuses a token whose audience has a trailing slash, as F&O does', async () => {
    const token = await tokenFor(emu, http, `${emu.url}//.default`);
    expect(decodeJwt(token).aud).toBe(`${emu.url}/`);
    const r = await http.send('GET', '/data/CustomersV3', undefined, {
      authorization: `Bearer ${token}`
    });
    expect(r.status).toBe(401);
  });

  it('refuses an expired token', async () => {
    const token = await emu.control.issueToken({ clientId: emu.clientId, lifetimeSeconds: -60 });
    const r = await http.send('GET', '/data/CustomersV3', undefined, {
      authorization: `Bearer ${token}`
    });
    expect(r.status).toBe(401);
  });

  it('refuses a token signed by another key', async () => {
    const other = await start({ seed: 'empty', tls: false });
    try {
      const foreign = await other.control.issueToken({
        clientId: other.clientId,
        audience: emu.url
      });
      const r = await http.send('GET', '/data/CustomersV3', undefined, {
        authorization: `Bearer ${foreign}`
      });
      expect(r.status).toBe(401);
    } finally {
      await other.close();
    }
  });
});

describe('@azure/msal-node as a real client', () => {
  it('acquires a token through the emulator authority and the token opens /data', async () => {
    const cca = new ConfidentialClientApplication({
      auth: {
        clientId: emu.clientId,
        clientSecret: emu.clientSecret,
        authority: emu.authority,
        knownAuthorities: [new URL(emu.url).host]
      },
      system: { networkClient: networkClient(emu.caCertPem) }
    });
    const result = await cca.acquireTokenByClientCredential({ scopes: [`${emu.url}/.default`] });
    expect(result?.accessToken).toBeTruthy();
    const r = await http.send('GET', '/data/LegalEntities', undefined, {
      authorization: `Bearer ${result!.accessToken}`
    });
    expect(r.status).toBe(200);
  });
});
