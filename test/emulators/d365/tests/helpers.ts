// Test client: real HTTPS against the emulator, trusting its self-signed certificate.
import { Agent, request } from 'node:https';
import type { D365Emulator } from '../index.ts';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: () => Record<string, unknown>;
}

export interface HttpClient {
  agent: Agent;
  send(
    method: string,
    path: string,
    body?: string | Buffer,
    headers?: Record<string, string>
  ): Promise<Reply>;
}

export function httpClient(emu: D365Emulator): HttpClient {
  const agent = new Agent({ ca: emu.caCertPem, keepAlive: true });
  return {
    agent,
    send: (method, path, body, headers = {}) =>
      new Promise((resolve, reject) => {
        const url = path.startsWith('http') ? path : emu.url + path;
        const req = request(url, { method, agent, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: text,
              json: () => JSON.parse(text) as Record<string, unknown>
            });
          });
        });
        req.on('error', reject);
        if (body !== undefined) req.write(body);
        req.end();
      })
  };
}

export async function tokenFor(
  emu: D365Emulator,
  http: HttpClient,
  scope = `${emu.url}/.default`
): Promise<string> {
  const r = await http.send(
    'POST',
    `/${emu.tenantId}/oauth2/v2.0/token`,
    new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: emu.clientId,
      client_secret: emu.clientSecret,
      scope
    }).toString(),
    { 'content-type': 'application/x-www-form-urlencoded' }
  );
  if (r.status !== 200) throw new Error(`token request failed: ${r.status} ${r.body}`);
  return String(r.json().access_token);
}

export interface DataClient {
  http: HttpClient;
  get(path: string): Promise<Reply>;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Reply>;
  patch(path: string, body: unknown, headers?: Record<string, string>): Promise<Reply>;
  del(path: string, headers?: Record<string, string>): Promise<Reply>;
}

/** OData client with a bearer token from the emulator's own token endpoint. */
export async function dataClient(emu: D365Emulator): Promise<DataClient> {
  const http = httpClient(emu);
  const token = await tokenFor(emu, http);
  const auth = { authorization: `Bearer ${token}` };
  const json = { ...auth, 'content-type': 'application/json' };
  const enc = (p: string): string => p.replace(/ /g, '%20');
  return {
    http,
    get: (path) => http.send('GET', enc(path), undefined, auth),
    post: (path, body, headers = {}) =>
      http.send('POST', enc(path), JSON.stringify(body), { ...json, ...headers }),
    patch: (path, body, headers = {}) =>
      http.send('PATCH', enc(path), JSON.stringify(body), { ...json, ...headers }),
    del: (path, headers = {}) => http.send('DELETE', enc(path), undefined, { ...auth, ...headers })
  };
}

export function innerMessage(r: Reply): string {
  const e = r.json().error as { innererror?: { message: string }; message: string };
  return e.innererror?.message ?? e.message;
}
