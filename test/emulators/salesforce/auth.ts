/**
 * OAuth 2.0 token endpoint (JWT bearer and client credentials), userinfo, and the access-token
 * check shared by REST and the Pub/Sub API (salesforce.md §1).
 */
import { createHash, createPublicKey, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { errors as joseErrors, importX509, jwtVerify } from 'jose';
import type { Org, Session } from './org.ts';
import type { PubSubAuthMetadata, PubSubCaller } from './pubsub/types.ts';

const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Audiences Salesforce accepts besides the My Domain URL (JWT bearer flow docs). */
const PUBLIC_AUDIENCES = ['https://login.salesforce.com', 'https://test.salesforce.com'];

function oauthError(reply: FastifyReply, error: string, description: string): FastifyReply {
  return reply
    .code(400)
    .header('content-type', 'application/json;charset=UTF-8')
    .send({ error, error_description: description });
}

/** Accepts an X.509 certificate (what Setup takes) or a bare SPKI public key, in PEM. */
export async function importVerificationKey(pem: string) {
  if (pem.includes('BEGIN CERTIFICATE')) return importX509(pem, 'RS256');
  return createPublicKey(pem);
}

export function identityUrl(org: Org, userId: string): string {
  return `${org.instanceUrl}/id/${org.orgId}/${userId}`;
}

function tokenBody(org: Org, session: Session, withIssuedAt: boolean): Record<string, string> {
  const body: Record<string, string> = {
    access_token: session.token,
    scope: 'api',
    instance_url: org.instanceUrl,
    id: identityUrl(org, session.userId),
    token_type: 'Bearer'
  };
  if (withIssuedAt) {
    body.issued_at = String(session.issuedAt);
    // Salesforce signs id + issued_at with the consumer secret; clients only pass it through.
    body.signature = createHash('sha256').update(`${body.id}${body.issued_at}`).digest('base64');
  }
  return body;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function registerOAuthRoutes(app: FastifyInstance, org: Org): void {
  app.post('/services/oauth2/token', async (request, reply) => {
    org.count('auth');
    const form = new URLSearchParams(typeof request.body === 'string' ? request.body : '');
    const grantType = form.get('grant_type');
    if (grantType === JWT_BEARER_GRANT) return jwtBearer(org, form.get('assertion') ?? '', reply);
    if (grantType === 'client_credentials') {
      let clientId = form.get('client_id');
      let clientSecret = form.get('client_secret');
      const basic = /^Basic (.+)$/i.exec(request.headers.authorization ?? '');
      if (basic) {
        const decoded = Buffer.from(basic[1] as string, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        clientId = decodeURIComponent(decoded.slice(0, colon));
        clientSecret = decodeURIComponent(decoded.slice(colon + 1));
      }
      const appEntry = clientId ? org.clientCredentialsApps.get(clientId) : undefined;
      if (!appEntry) return oauthError(reply, 'invalid_client_id', 'client identifier invalid');
      if (!clientSecret || !safeEqual(clientSecret, appEntry.clientSecret)) {
        return oauthError(reply, 'invalid_client', 'invalid client credentials');
      }
      if (!appEntry.runAsUserId || !org.user(appEntry.runAsUserId)) {
        return oauthError(reply, 'invalid_grant', 'no client credentials user enabled');
      }
      const session = org.issueSession(appEntry.runAsUserId);
      return reply
        .header('cache-control', 'no-cache,must-revalidate,max-age=0,no-store,private')
        .send(tokenBody(org, session, true));
    }
    return oauthError(reply, 'unsupported_grant_type', 'grant type not supported');
  });

  // Token revocation (OAuth 2.0 Token Revocation): the token stops working at once.
  app.post('/services/oauth2/revoke', async (request, reply) => {
    const form = new URLSearchParams(typeof request.body === 'string' ? request.body : '');
    const token = form.get('token') ?? '';
    if (!org.sessions.delete(token)) {
      return oauthError(reply, 'unsupported_token_type', 'this token type is not supported');
    }
    return reply.code(200).send();
  });

  app.get('/services/oauth2/userinfo', async (request, reply) => {
    const session = org.session(bearer(request.headers.authorization));
    if (!session) return badToken(reply);
    const user = org.user(session.userId) ?? {};
    return {
      sub: identityUrl(org, session.userId),
      user_id: session.userId,
      organization_id: org.orgId,
      preferred_username: user.Username,
      nickname: user.Alias,
      name: user.Name,
      email: user.Email,
      email_verified: true,
      given_name: user.FirstName,
      family_name: user.LastName,
      zoneinfo: user.TimeZoneSidKey,
      locale: user.LocaleSidKey,
      language: user.LanguageLocaleKey,
      active: user.IsActive === true,
      user_type: 'STANDARD',
      utcOffset: 0,
      updated_at: new Date(user.LastModifiedDate as number).toISOString().replace('.000Z', 'Z'),
      urls: identityUrls(org)
    };
  });

  // Identity service (the `id` URL of a token response); accepts the token as `oauth_token` too.
  app.get<{ Params: { orgId: string; userId: string }; Querystring: { oauth_token?: string } }>(
    '/id/:orgId/:userId',
    async (request, reply) => {
      const token = bearer(request.headers.authorization) ?? request.query.oauth_token;
      const session = org.session(token);
      if (!session) return badToken(reply);
      const { orgId, userId } = request.params;
      if (orgId !== org.orgId || userId !== session.userId) return badToken(reply);
      const user = org.user(session.userId) ?? {};
      return {
        id: identityUrl(org, session.userId),
        asserted_user: true,
        user_id: session.userId,
        organization_id: org.orgId,
        username: user.Username,
        nick_name: user.Alias,
        display_name: user.Name,
        email: user.Email,
        email_verified: true,
        first_name: user.FirstName,
        last_name: user.LastName,
        timezone: user.TimeZoneSidKey,
        active: user.IsActive === true,
        user_type: 'STANDARD',
        language: user.LanguageLocaleKey,
        locale: user.LocaleSidKey,
        utcOffset: 0,
        last_modified_date: new Date(user.LastModifiedDate as number)
          .toISOString()
          .replace('Z', '+0000'),
        urls: identityUrls(org)
      };
    }
  );
}

// The OpenID endpoints answer a bad token with 403, a plain-text body and a WWW-Authenticate header.
function badToken(reply: FastifyReply): FastifyReply {
  return reply
    .code(403)
    .header('www-authenticate', 'Bearer error="invalid_token"')
    .type('text/plain')
    .send('Bad_OAuth_Token');
}

function identityUrls(org: Org): Record<string, string> {
  return {
    rest: `${org.instanceUrl}/services/data/v{version}/`,
    sobjects: `${org.instanceUrl}/services/data/v{version}/sobjects/`,
    query: `${org.instanceUrl}/services/data/v{version}/query/`
  };
}

async function jwtBearer(org: Org, assertion: string, reply: FastifyReply) {
  const parts = assertion.split('.');
  if (parts.length !== 3) return oauthError(reply, 'invalid_grant', 'invalid assertion');
  let claims: { iss?: unknown; sub?: unknown; aud?: unknown; exp?: unknown };
  try {
    claims = JSON.parse(
      Buffer.from(parts[1] as string, 'base64url').toString('utf8')
    ) as typeof claims;
  } catch {
    return oauthError(reply, 'invalid_grant', 'invalid assertion');
  }
  const appEntry = typeof claims.iss === 'string' ? org.jwtApps.get(claims.iss) : undefined;
  if (!appEntry) return oauthError(reply, 'invalid_client_id', 'client identifier invalid');
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  const accepted = [org.instanceUrl, ...PUBLIC_AUDIENCES];
  if (!audiences.some((a) => typeof a === 'string' && accepted.includes(a.replace(/\/$/, '')))) {
    return oauthError(reply, 'invalid_grant', 'audience is invalid');
  }
  try {
    // Salesforce documents exp "within 3 minutes"; real clients send up to 5 minutes and succeed,
    // so only an expired assertion (or a missing exp) is refused.
    await jwtVerify(assertion, appEntry.key, { algorithms: ['RS256'], requiredClaims: ['exp'] });
  } catch (error) {
    // The docs do not list a distinct expiry message; a refused assertion reads "invalid assertion".
    if (error instanceof joseErrors.JOSEError)
      return oauthError(reply, 'invalid_grant', 'invalid assertion');
    throw error;
  }
  const user = typeof claims.sub === 'string' ? org.userByUsername(claims.sub) : null;
  if (!user || user.IsActive !== true) {
    return oauthError(reply, 'invalid_grant', "user hasn't approved this consumer");
  }
  const allowed = appEntry.allowedUsernames;
  if (
    allowed.length > 0 &&
    !allowed.some((u) => u.toLowerCase() === String(user.Username).toLowerCase())
  ) {
    return oauthError(reply, 'invalid_app_access', 'user is not admin approved to access this app');
  }
  return reply.send(tokenBody(org, org.issueSession(user.Id as string), false));
}

export function bearer(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^(?:Bearer|OAuth)\s+(.+)$/i.exec(header);
  return m ? (m[1] as string).trim() : undefined;
}

/**
 * The Pub/Sub API's `authenticate` option: a live access token, plus — when the client sends
 * them — the instance URL and the org ID (15 or 18 characters) of this org.
 */
export function createPubSubAuthenticator(
  org: Org
): (md: PubSubAuthMetadata) => PubSubCaller | null {
  return (md) => {
    const session = org.session(md.accesstoken);
    if (!session) return null;
    // Host and port must match; the scheme may not: clients such as salesforce-pubsub-api-client
    // insist on an https:// instance URL while the emulator serves REST over plain http.
    if (md.instanceurl && hostOf(md.instanceurl) !== hostOf(org.instanceUrl)) return null;
    if (md.tenantid && md.tenantid !== org.orgId && md.tenantid !== org.orgId15) return null;
    return { userId: session.userId, orgId: org.orgId };
  };
}

function hostOf(url: string): string | null {
  try {
    return new URL(url).host;
  } catch {
    return null;
  }
}
