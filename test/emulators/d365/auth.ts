// Microsoft Entra ID, as far as the client-credentials flow and @azure/msal-node need it:
// token endpoint, OpenID metadata, JWKS; plus the bearer check F&O runs on every /data call
// (shared/reference/d365-fo.md §4).
import { createHash, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { FaultDecision } from './faults.ts';
import { SignJWT, exportJWK, generateKeyPair, jwtVerify, type CryptoKey, type JWK } from 'jose';

export interface ClientRegistration {
  clientId: string;
  clientSecret: string;
  /** App roles placed in the `roles` claim. */
  roles?: string[];
}

export interface TokenClaims {
  appid: string;
  oid: string;
  tid: string;
  aud: string;
  exp: number;
}

/** Entra's access-token lifetime for this flow is 60–90 min; 3599 s is what `expires_in` shows. */
const DEFAULT_TOKEN_LIFETIME_SECONDS = 3599;
/** Bound on the verified-token cache, so a long benchmark cannot grow it without limit. */
const TOKEN_CACHE_LIMIT = 10_000;

export interface AuthorityOptions {
  baseUrl: string;
  tenantId: string;
  clients: ClientRegistration[];
  tokenLifetimeSeconds?: number;
}

interface EntraError {
  status: number;
  error: string;
  code?: number;
  description: string;
}

export class Authority {
  private readonly o: AuthorityOptions;
  private readonly clients: Map<string, ClientRegistration>;
  private privateKey!: CryptoKey;
  private publicKey!: CryptoKey;
  private jwk!: JWK;
  private readonly kid = randomUUID().replace(/-/g, '');
  private readonly verified = new Map<string, TokenClaims>();
  lifetimeSeconds: number;
  onTokenIssued: () => void = () => {};
  /** Injected fault for the token endpoint, decided per request (see faults.ts). */
  tokenFault: () => FaultDecision = () => ({ kind: 'none' });

  constructor(options: AuthorityOptions) {
    this.o = options;
    this.clients = new Map(options.clients.map((c) => [c.clientId, c]));
    this.lifetimeSeconds = options.tokenLifetimeSeconds ?? DEFAULT_TOKEN_LIFETIME_SECONDS;
  }

  async init(): Promise<void> {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    this.privateKey = privateKey;
    this.publicKey = publicKey;
    this.jwk = { ...(await exportJWK(publicKey)), kid: this.kid, use: 'sig', alg: 'RS256' };
  }

  get issuer(): string {
    // v1-style access tokens (F&O is a v1 resource): iss mirrors https://sts.windows.net/{tid}/.
    return `${this.o.baseUrl}/${this.o.tenantId}/`;
  }

  /** Issues a token as the token endpoint would; used by the endpoint and by tests. */
  async issue(
    clientId: string,
    audience: string,
    lifetimeSeconds = this.lifetimeSeconds
  ): Promise<string> {
    const client = this.clients.get(clientId);
    const now = Math.floor(Date.now() / 1000);
    const oid = stableGuid(`${this.o.tenantId}:${clientId}`);
    return new SignJWT({
      aud: audience,
      iss: this.issuer,
      tid: this.o.tenantId,
      appid: clientId,
      appidacr: '1',
      idp: this.issuer,
      oid,
      sub: oid,
      idtyp: 'app',
      roles: client?.roles ?? [],
      ver: '1.0'
    })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: this.kid })
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + lifetimeSeconds)
      .sign(this.privateKey);
  }

  /** Claims of a token verified before and not yet expired (the synchronous fast path). */
  cached(authorization: string | undefined): TokenClaims | undefined {
    if (!authorization?.startsWith('Bearer ')) return undefined;
    const claims = this.verified.get(authorization.slice(7).trim());
    return claims && claims.exp > Date.now() / 1000 ? claims : undefined;
  }

  /** Bearer check: signature, issuer, audience = environment URL exactly, expiry. */
  async verify(authorization: string | undefined): Promise<TokenClaims | undefined> {
    if (!authorization || !authorization.startsWith('Bearer ')) return undefined;
    const token = authorization.slice(7).trim();
    const now = Math.floor(Date.now() / 1000);
    const cached = this.verified.get(token);
    if (cached) {
      if (cached.exp > now) return cached;
      this.verified.delete(token);
      return undefined;
    }
    try {
      const { payload } = await jwtVerify(token, this.publicKey, {
        algorithms: ['RS256'],
        issuer: this.issuer,
        // Exact match: a trailing slash or upper case in aud fails in F&O too (§4).
        audience: this.o.baseUrl
      });
      const claims: TokenClaims = {
        appid: String(payload.appid),
        oid: String(payload.oid),
        tid: String(payload.tid),
        aud: String(payload.aud),
        exp: Number(payload.exp)
      };
      if (this.verified.size >= TOKEN_CACHE_LIMIT) this.verified.clear();
      this.verified.set(token, claims);
      return claims;
    } catch {
      return undefined;
    }
  }

  registerClient(client: ClientRegistration): void {
    this.clients.set(client.clientId, client);
  }

  routes(app: FastifyInstance): void {
    const base = this.o.baseUrl;
    app.get('/:tenant/v2.0/.well-known/openid-configuration', async (req, reply) => {
      const { tenant } = req.params as { tenant: string };
      if (tenant !== this.o.tenantId) return this.fail(reply, tenantNotFound(tenant));
      const t = this.o.tenantId;
      return {
        token_endpoint: `${base}/${t}/oauth2/v2.0/token`,
        token_endpoint_auth_methods_supported: [
          'client_secret_post',
          'private_key_jwt',
          'client_secret_basic'
        ],
        jwks_uri: `${base}/${t}/discovery/v2.0/keys`,
        response_modes_supported: ['query', 'fragment', 'form_post'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        issuer: `${base}/${t}/v2.0`,
        request_uri_parameter_supported: false,
        userinfo_endpoint: `${base}/oidc/userinfo`,
        authorization_endpoint: `${base}/${t}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${base}/${t}/oauth2/v2.0/devicecode`,
        http_logout_supported: true,
        frontchannel_logout_supported: true,
        end_session_endpoint: `${base}/${t}/oauth2/v2.0/logout`,
        claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'tid', 'oid', 'appid', 'roles'],
        tenant_region_scope: 'NA',
        cloud_instance_name: 'microsoftonline.com',
        cloud_graph_host_name: 'graph.windows.net',
        msgraph_host: 'graph.microsoft.com'
      };
    });
    app.get('/:tenant/discovery/v2.0/keys', async (req, reply) => {
      const { tenant } = req.params as { tenant: string };
      if (tenant !== this.o.tenantId) return this.fail(reply, tenantNotFound(tenant));
      return {
        keys: [
          {
            kty: this.jwk.kty,
            use: 'sig',
            kid: this.kid,
            n: this.jwk.n,
            e: this.jwk.e,
            alg: 'RS256'
          }
        ]
      };
    });
    // Instance discovery, for clients that do not list the emulator in knownAuthorities.
    app.get('/:tenant/discovery/instance', async () => {
      const host = new URL(base).host;
      return {
        tenant_discovery_endpoint: `${base}/${this.o.tenantId}/v2.0/.well-known/openid-configuration`,
        'api-version': '1.1',
        metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }]
      };
    });
    app.post('/:tenant/oauth2/v2.0/token', async (req, reply) => {
      const fault = this.tokenFault();
      if (fault.kind === 'drop') {
        reply.hijack();
        req.raw.socket.destroy();
        return reply;
      }
      if (fault.kind === 'status') {
        if (fault.retryAfter) reply.header('Retry-After', String(fault.retryAfter));
        return this.fail(reply, {
          status: fault.status,
          error: 'temporarily_unavailable',
          code: 50196,
          description:
            'The server is temporarily unable to handle the request. Please try again later.'
        });
      }
      const { tenant } = req.params as { tenant: string };
      const form = new URLSearchParams(Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '');
      const basic = parseBasic(req.headers.authorization);
      const result = this.checkTokenRequest(tenant, form, basic);
      if ('error' in result) return this.fail(reply, result);
      const token = await this.issue(result.clientId, result.audience);
      this.onTokenIssued();
      reply.header('Cache-Control', 'no-store, no-cache');
      return {
        token_type: 'Bearer',
        expires_in: this.lifetimeSeconds,
        ext_expires_in: this.lifetimeSeconds,
        access_token: token
      };
    });
  }

  private checkTokenRequest(
    tenant: string,
    form: URLSearchParams,
    basic: { id: string; secret: string } | undefined
  ): EntraError | { clientId: string; audience: string } {
    if (tenant !== this.o.tenantId) return tenantNotFound(tenant);
    const grant = form.get('grant_type');
    if (!grant) return missingParameter('grant_type');
    if (grant !== 'client_credentials') {
      return {
        status: 400,
        error: 'unsupported_grant_type',
        code: 70003,
        description: `The app requested an unsupported grant type '${grant}'.`
      };
    }
    const clientId = form.get('client_id') ?? basic?.id;
    if (!clientId) return missingParameter('client_id');
    const client = this.clients.get(clientId);
    if (!client) {
      return {
        status: 400,
        error: 'unauthorized_client',
        code: 700016,
        description: `Application with identifier '${clientId}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`
      };
    }
    const secret = form.get('client_secret') ?? basic?.secret;
    if (!secret) {
      return {
        status: 401,
        error: 'invalid_client',
        code: 7000218,
        description:
          "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."
      };
    }
    if (secret !== client.clientSecret) {
      return {
        status: 401,
        error: 'invalid_client',
        code: 7000215,
        description: `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`
      };
    }
    const scope = form.get('scope');
    if (!scope) return missingParameter('scope');
    const defaultScope = scope.split(' ').find((s) => s.endsWith('/.default'));
    if (!defaultScope) {
      return {
        status: 400,
        error: 'invalid_scope',
        code: 1002012,
        description: `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`
      };
    }
    // Entra accepts the resource with a trailing slash and puts it in aud as sent; F&O then
    // refuses the token (§4, "aud … has a trailing slash"). Host case is normalised, as URIs are.
    const resource = defaultScope.slice(0, -'/.default'.length);
    const normalised = resource.replace(/\/+$/, '').toLowerCase();
    if (normalised !== this.o.baseUrl.toLowerCase()) {
      return {
        status: 400,
        error: 'invalid_resource',
        code: 500011,
        description: `The resource principal named ${resource} was not found in the tenant named ${tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`
      };
    }
    const audience = resource.endsWith('/') ? `${this.o.baseUrl}/` : this.o.baseUrl;
    return { clientId, audience };
  }

  private fail(reply: FastifyReply, e: EntraError): FastifyReply {
    const traceId = randomUUID();
    const correlationId = randomUUID();
    const timestamp = new Date().toISOString().replace('T', ' ').slice(0, 19) + 'Z';
    return reply.code(e.status).send({
      error: e.error,
      error_description: `${e.code ? `AADSTS${e.code}: ` : ''}${e.description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
      error_codes: e.code ? [e.code] : [],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `${this.o.baseUrl}/error?code=${e.code ?? ''}`
    });
  }
}

function tenantNotFound(tenant: string): EntraError {
  return {
    status: 400,
    error: 'invalid_request',
    code: 90002,
    description: `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`
  };
}

function missingParameter(name: string): EntraError {
  return {
    status: 400,
    error: 'invalid_request',
    code: 900144,
    description: `The request body must contain the following parameter: '${name}'.`
  };
}

function parseBasic(header: string | undefined): { id: string; secret: string } | undefined {
  if (!header?.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return undefined;
  return {
    id: decodeURIComponent(decoded.slice(0, i)),
    secret: decodeURIComponent(decoded.slice(i + 1))
  };
}

/** Deterministic GUID for a name, so an app keeps its object id across restarts. */
export function stableGuid(name: string): string {
  const h = createHash('sha256').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
