import { generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startHarness } from './helpers.ts';
import type { Harness } from './helpers.ts';

const CONSUMER_KEY = '3MVG9-test-consumer-key';
let h: Harness;
let privateKey: KeyObject;
let otherKey: KeyObject;

beforeAll(async () => {
  h = await startHarness();
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  privateKey = pair.privateKey;
  otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  await h.emu.control.registerJwtApp({
    consumerKey: CONSUMER_KEY,
    certificatePem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString()
  });
});
afterAll(() => h.close());

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const tokenRequest = (body: string, headers: Record<string, string> = {}) =>
  call(`${h.emu.instanceUrl}/services/oauth2/token`, 'POST', null, body, {
    'content-type': 'application/x-www-form-urlencoded',
    ...headers
  });

async function assertion(
  claims: Record<string, unknown>,
  key = privateKey,
  expiresIn: string | number = '3m'
) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256' })
    .setExpirationTime(expiresIn)
    .sign(key);
}

const jwtGrant = (jwt: string) =>
  form({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: jwt });

describe('OAuth JWT bearer flow', () => {
  it('issues an access token with the documented fields for a valid assertion', async () => {
    const jwt = await assertion({
      iss: CONSUMER_KEY,
      sub: h.emu.integrationUser.username,
      aud: h.emu.instanceUrl
    });
    const res = await tokenRequest(jwtGrant(jwt));
    expect(res.status).toBe(200);
    const body = res.body as Record<string, string>;
    expect(Object.keys(body).sort()).toEqual([
      'access_token',
      'id',
      'instance_url',
      'scope',
      'token_type'
    ]);
    expect(body.access_token?.split('!')[0]).toBe(h.emu.orgId.slice(0, 15));
    expect(body.instance_url).toBe(h.emu.instanceUrl);
    expect(body.id).toBe(`${h.emu.instanceUrl}/id/${h.emu.orgId}/${h.emu.integrationUser.id}`);
    expect(body.token_type).toBe('Bearer');
  });

  it('accepts login.salesforce.com as the audience', async () => {
    const jwt = await assertion({
      iss: CONSUMER_KEY,
      sub: h.emu.integrationUser.username,
      aud: 'https://login.salesforce.com'
    });
    expect((await tokenRequest(jwtGrant(jwt))).status).toBe(200);
  });

  it('refuses a wrong audience with invalid_grant', async () => {
    const jwt = await assertion({
      iss: CONSUMER_KEY,
      sub: h.emu.integrationUser.username,
      aud: 'https://example.com'
    });
    const res = await tokenRequest(jwtGrant(jwt));
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_grant', error_description: 'audience is invalid' });
  });

  it('refuses an unknown consumer key with invalid_client_id', async () => {
    const jwt = await assertion({
      iss: 'nope',
      sub: h.emu.integrationUser.username,
      aud: h.emu.instanceUrl
    });
    expect((await tokenRequest(jwtGrant(jwt))).body).toEqual({
      error: 'invalid_client_id',
      error_description: 'client identifier invalid'
    });
  });

  it('refuses an assertion signed with another key', async () => {
    const jwt = await assertion(
      { iss: CONSUMER_KEY, sub: h.emu.integrationUser.username, aud: h.emu.instanceUrl },
      otherKey
    );
    expect((await tokenRequest(jwtGrant(jwt))).body).toEqual({
      error: 'invalid_grant',
      error_description: 'invalid assertion'
    });
  });

  it('refuses an expired assertion', async () => {
    const past = Math.floor(Date.now() / 1000) - 60;
    const jwt = await assertion(
      { iss: CONSUMER_KEY, sub: h.emu.integrationUser.username, aud: h.emu.instanceUrl },
      privateKey,
      past
    );
    const res = await tokenRequest(jwtGrant(jwt));
    expect(res.status).toBe(400);
    expect((res.body as { error: string }).error).toBe('invalid_grant');
  });

  it('refuses an unknown username', async () => {
    const jwt = await assertion({
      iss: CONSUMER_KEY,
      sub: 'nobody@example.com',
      aud: h.emu.instanceUrl
    });
    expect((await tokenRequest(jwtGrant(jwt))).body).toEqual({
      error: 'invalid_grant',
      error_description: "user hasn't approved this consumer"
    });
  });
});

describe('OAuth client credentials flow', () => {
  it('issues a token with issued_at in epoch milliseconds and a signature', async () => {
    const before = Date.now();
    const res = await tokenRequest(
      form({
        grant_type: 'client_credentials',
        client_id: 'test-client',
        client_secret: 'test-secret'
      })
    );
    expect(res.status).toBe(200);
    const body = res.body as Record<string, string>;
    expect(Number(body.issued_at)).toBeGreaterThanOrEqual(before);
    expect(typeof body.signature).toBe('string');
    expect(body).not.toHaveProperty('refresh_token');
    expect(body).not.toHaveProperty('expires_in');
  });

  it('accepts the credentials in a Basic authorization header', async () => {
    const basic = Buffer.from('test-client:test-secret').toString('base64');
    const res = await tokenRequest(form({ grant_type: 'client_credentials' }), {
      authorization: `Basic ${basic}`
    });
    expect(res.status).toBe(200);
  });

  it('refuses a wrong secret and an unknown client', async () => {
    const wrong = await tokenRequest(
      form({ grant_type: 'client_credentials', client_id: 'test-client', client_secret: 'x' })
    );
    expect(wrong.body).toEqual({
      error: 'invalid_client',
      error_description: 'invalid client credentials'
    });
    const unknown = await tokenRequest(
      form({ grant_type: 'client_credentials', client_id: 'x', client_secret: 'x' })
    );
    expect(unknown.body).toEqual({
      error: 'invalid_client_id',
      error_description: 'client identifier invalid'
    });
  });

  it('refuses an app without a Run As user', async () => {
    h.emu.control.registerClientCredentialsApp({
      clientId: 'no-user',
      clientSecret: 's',
      runAsUsername: null
    });
    const res = await tokenRequest(
      form({ grant_type: 'client_credentials', client_id: 'no-user', client_secret: 's' })
    );
    expect(res.body).toEqual({
      error: 'invalid_grant',
      error_description: 'no client credentials user enabled'
    });
  });

  it('refuses an unsupported grant type', async () => {
    const res = await tokenRequest(form({ grant_type: 'password' }));
    expect(res.status).toBe(400);
    expect((res.body as { error: string }).error).toBe('unsupported_grant_type');
  });
});

describe('sessions', () => {
  it('serves userinfo with the organization id and username', async () => {
    const res = await call(`${h.emu.instanceUrl}/services/oauth2/userinfo`, 'GET', h.token);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      organization_id: h.emu.orgId,
      preferred_username: h.emu.integrationUser.username,
      user_id: h.emu.integrationUser.id
    });
  });

  it('answers 401 INVALID_SESSION_ID once the token lifetime has passed', async () => {
    h.emu.control.setTokenLifetime(1);
    const res = await tokenRequest(
      form({
        grant_type: 'client_credentials',
        client_id: 'test-client',
        client_secret: 'test-secret'
      })
    );
    const accessToken = (res.body as { access_token: string }).access_token;
    expect(
      (await call(`${h.emu.instanceUrl}/services/data/v62.0/limits`, 'GET', accessToken)).status
    ).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const expired = await call(
      `${h.emu.instanceUrl}/services/data/v62.0/limits`,
      'GET',
      accessToken
    );
    expect(expired.status).toBe(401);
    expect(expired.body).toEqual([
      { message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }
    ]);
  });

  it('revokes a token', async () => {
    h.emu.control.setTokenLifetime(3600);
    const res = await tokenRequest(
      form({
        grant_type: 'client_credentials',
        client_id: 'test-client',
        client_secret: 'test-secret'
      })
    );
    const accessToken = (res.body as { access_token: string }).access_token;
    expect(
      (await call(`${h.emu.instanceUrl}/services/data/v62.0/limits`, 'GET', accessToken)).status
    ).toBe(200);
    const revoke = await call(
      `${h.emu.instanceUrl}/services/oauth2/revoke`,
      'POST',
      null,
      form({ token: accessToken }),
      {
        'content-type': 'application/x-www-form-urlencoded'
      }
    );
    expect(revoke.status).toBe(200);
    expect(
      (await call(`${h.emu.instanceUrl}/services/data/v62.0/limits`, 'GET', accessToken)).status
    ).toBe(401);
  });

  it('invalidates every token when the control API expires sessions', async () => {
    h.emu.control.setTokenLifetime(3600);
    const res = await tokenRequest(
      form({
        grant_type: 'client_credentials',
        client_id: 'test-client',
        client_secret: 'test-secret'
      })
    );
    const accessToken = (res.body as { access_token: string }).access_token;
    expect(h.emu.control.expireSessions()).toBeGreaterThan(0);
    expect(
      (await call(`${h.emu.instanceUrl}/services/data/v62.0/limits`, 'GET', accessToken)).status
    ).toBe(401);
  });
});
