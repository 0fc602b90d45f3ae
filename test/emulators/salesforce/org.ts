/**
 * State of one emulated org: data, sessions, connected apps, API budget, counters and faults.
 * The HTTP layers (OAuth, REST, Bulk, control) all read and write this one object.
 */
import { randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { to18 } from './ids.ts';
import type { OrgModel } from './model.ts';
import { Database } from './store.ts';
import type { MetadataRecord } from './metadata.ts';
import type { RecordChange, SfRecord } from './store.ts';
import { coerceCsv } from './values.ts';

export type ApiKind = 'rest' | 'composite' | 'collections' | 'bulk' | 'query' | 'auth';

export interface Session {
  token: string;
  userId: string;
  issuedAt: number;
  expiresAt: number;
}

export interface JwtApp {
  consumerKey: string;
  key: CryptoKey | KeyObject;
  /** Usernames pre-authorized for the app; empty = every active user ("admin approved" with all profiles). */
  allowedUsernames: string[];
}

export interface ClientCredentialsApp {
  clientId: string;
  clientSecret: string;
  runAsUserId: string | null;
}

export interface Faults {
  latencyMs: number;
  /** Share of API requests (0…1) answered with `errorStatus`. */
  errorRate: number;
  errorStatus: number;
  /** The next N API requests fail with `errorStatus`, whatever the rate. */
  failNext: number;
  /** Every API request answers 403 REQUEST_LIMIT_EXCEEDED while set. */
  requestLimitExceeded: boolean;
}

export const NO_FAULTS: Faults = {
  latencyMs: 0,
  errorRate: 0,
  errorStatus: 503,
  failNext: 0,
  requestLimitExceeded: false
};

export interface OrgOptions {
  instanceUrl: string;
  orgId15: string;
  tokenLifetimeSeconds: number;
  dailyApiLimit: number;
  longRequestThresholdMs: number;
  maxConcurrentLongRequests: number;
  integrationUsername: string;
  /** Custom metadata records read from force-app. */
  metadataRecords: MetadataRecord[];
}

const KINDS: ApiKind[] = ['rest', 'composite', 'collections', 'bulk', 'query', 'auth'];

export class Org {
  readonly model: OrgModel;
  db: Database;
  readonly orgId: string;
  readonly orgId15: string;
  instanceUrl: string;
  readonly options: OrgOptions;
  tokenLifetimeMs: number;
  readonly sessions = new Map<string, Session>();
  readonly jwtApps = new Map<string, JwtApp>();
  readonly clientCredentialsApps = new Map<string, ClientCredentialsApp>();
  dailyApiLimit: number;
  apiUsed = 0;
  counters: Record<ApiKind, number> = emptyCounters();
  faults: Faults = { ...NO_FAULTS };
  /** Start times of API requests in flight, for the concurrent long-request limit. */
  readonly inFlight = new Set<{ started: number }>();
  integrationUserId = '';
  private changeListener: ((change: RecordChange) => void) | null = null;

  constructor(model: OrgModel, options: OrgOptions) {
    this.model = model;
    this.options = options;
    this.orgId15 = options.orgId15;
    this.orgId = to18(options.orgId15);
    this.instanceUrl = options.instanceUrl;
    this.tokenLifetimeMs = options.tokenLifetimeSeconds * 1000;
    this.dailyApiLimit = options.dailyApiLimit;
    this.db = new Database(model);
    this.seed();
  }

  /** Empty data set with the integration user and the standard price book. */
  resetData(): void {
    this.db = new Database(this.model);
    this.seed();
    this.db.onChange = this.changeListener;
  }

  /** Listener for committed record changes; survives resetData(). */
  setChangeListener(listener: ((change: RecordChange) => void) | null): void {
    this.changeListener = listener;
    this.db.onChange = listener;
  }

  private seed(): void {
    const bootstrap = '005000000000000AAA';
    const user = this.db.insert(
      'User',
      {
        Username: this.options.integrationUsername,
        LastName: 'Integration',
        FirstName: 'Relay',
        Email: this.options.integrationUsername,
        Alias: 'relay'
      },
      { userId: bootstrap, mode: 'json' }
    );
    if (!user.ok) throw new Error('seeding the integration user failed');
    this.integrationUserId = user.id;
    const table = this.db.table('User');
    const stored = table?.byId.get(user.id) as SfRecord;
    // The first user created itself.
    table?.byId.set(user.id, { ...stored, CreatedById: user.id, LastModifiedById: user.id });
    const book = this.db.insert(
      'Pricebook2',
      { Name: 'Standard Price Book', IsActive: true },
      { userId: user.id, mode: 'json' },
      { IsStandard: true }
    );
    if (!book.ok) throw new Error('seeding the standard price book failed');
    for (const r of this.options.metadataRecords) this.loadMetadataRecord(r);
  }

  private loadMetadataRecord(r: MetadataRecord): void {
    const object = this.model.objects.get(r.object.toLowerCase());
    if (!object) return;
    const values: SfRecord = {
      DeveloperName: r.developerName,
      MasterLabel: r.label,
      Label: r.label,
      QualifiedApiName: r.developerName
    };
    for (const [name, text] of Object.entries(r.values)) {
      const f = object.fieldsByLower.get(name.toLowerCase());
      if (!f || text === null) continue;
      const coerced = coerceCsv(f, text);
      if (!coerced.ok) throw new Error(`${r.object}.${r.developerName}: ${coerced.error.message}`);
      values[f.name] = coerced.value;
    }
    this.db.load(object.name, values);
  }

  issueSession(userId: string, now = Date.now()): Session {
    const token = `${this.orgId15}!${randomBytes(48).toString('base64url')}`;
    const session = { token, userId, issuedAt: now, expiresAt: now + this.tokenLifetimeMs };
    this.sessions.set(token, session);
    return session;
  }

  /** The live session for a bearer token, or null when unknown, revoked or expired. */
  session(token: string | undefined, now = Date.now()): Session | null {
    if (!token) return null;
    const session = this.sessions.get(token);
    if (!session) return null;
    if (session.expiresAt <= now) {
      this.sessions.delete(token);
      return null;
    }
    return session;
  }

  revokeAllSessions(): number {
    const n = this.sessions.size;
    this.sessions.clear();
    return n;
  }

  /** The user record for a username (case-insensitive, as Salesforce usernames are). */
  userByUsername(username: string): SfRecord | null {
    const users = this.db.table('User');
    if (!users) return null;
    const id = this.db.findBy(users, 'Username', username)[0];
    return id ? (users.byId.get(id) ?? null) : null;
  }

  user(id: string): SfRecord | null {
    return this.db.getById(id)?.record ?? null;
  }

  count(kind: ApiKind): void {
    this.counters[kind]++;
  }

  resetCounters(): void {
    this.counters = emptyCounters();
  }

  limitInfo(): string {
    return `api-usage=${this.apiUsed}/${this.dailyApiLimit}`;
  }
}

function emptyCounters(): Record<ApiKind, number> {
  return Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<ApiKind, number>;
}
