/**
 * Account → D365 customer (`CustomersV3`) mapping, and back for the D365-owned fields. Pure
 * functions: every lossy step (truncation, unknown country, dropped value) adds a warning that the
 * handler writes to `Account.D365_Sync_Warning__c`.
 */

// The core module: the package's main entry also loads all 78 locales (~2 MB resident); only 'en' is used.
import countries from 'i18n-iso-countries/index.js';
import english from 'i18n-iso-countries/langs/en.json' with { type: 'json' };

countries.registerLocale(english);

/** Field sizes of CustomersV3 (CustTable EDTs): DirPartyName 100, street 250, city 60, state 10, ZIP 10, e-mail/URL/phone 255, identification 50. */
export const CUSTOMER_FIELD_LIMITS = {
  OrganizationName: 100,
  AddressStreet: 250,
  AddressCity: 60,
  AddressState: 10,
  AddressZipCode: 10,
  PrimaryContactPhone: 255,
  PrimaryContactURL: 255,
  IdentificationNumber: 50
} as const;

/** `Account.D365_Sync_Warning__c` is Text Area(255). */
export const SYNC_WARNING_MAX = 255;

/** The account fields of `D365_Account_Sync__e.Payload__c` (docs/contracts.md). */
export interface AccountPayload {
  Id: string;
  Name: string | null;
  BillingStreet: string | null;
  BillingCity: string | null;
  BillingState: string | null;
  BillingPostalCode: string | null;
  BillingCountry: string | null;
  Phone: string | null;
  Website: string | null;
  CurrencyIsoCode: string | null;
  D365_Legal_Entity__c: string | null;
  D365_Customer_Number__c: string | null;
}

export interface AccountSyncEvent {
  recordId: string;
  idempotencyKey: string;
  operation: 'create' | 'update' | 'resync';
  legalEntity: string | null;
  customerNumber: string | null;
  changedFields: string[];
  account: AccountPayload;
}

/** Fields of `D365_Account_Sync__e` the flow reads; a test compares them with force-app. */
export const ACCOUNT_EVENT_FIELDS = [
  'Record_Id__c',
  'Idempotency_Key__c',
  'Operation__c',
  'Legal_Entity__c',
  'D365_Customer_Number__c',
  'Changed_Fields__c',
  'Payload__c'
] as const;

export const ACCOUNT_PAYLOAD_KEYS: ReadonlyArray<keyof AccountPayload> = [
  'Id',
  'Name',
  'BillingStreet',
  'BillingCity',
  'BillingState',
  'BillingPostalCode',
  'BillingCountry',
  'Phone',
  'Website',
  'CurrencyIsoCode',
  'D365_Legal_Entity__c',
  'D365_Customer_Number__c'
];

/** The payload keys an Account query reads: `CurrencyIsoCode` exists only in multi-currency orgs. */
export const ACCOUNT_QUERY_FIELDS = ACCOUNT_PAYLOAD_KEYS.filter((key) => key !== 'CurrencyIsoCode');

/** `D365AccountSyncService.MAPPED_FIELDS`: what a create event lists as changed. */
export const ACCOUNT_MAPPED_FIELDS = ACCOUNT_QUERY_FIELDS.filter(
  (key) => key !== 'Id' && key !== 'D365_Customer_Number__c'
);

/**
 * The `D365_Account_Sync__e` the account trigger would publish for creating this account (a row
 * with the `ACCOUNT_QUERY_FIELDS`), for flows that need its customer before their own record.
 */
export function accountCreateEvent(
  accountId: string,
  row: Record<string, unknown>,
  event: { idempotencyKey: string; legalEntity: string | null }
): Record<string, unknown> {
  return {
    Record_Id__c: accountId,
    Idempotency_Key__c: event.idempotencyKey,
    Operation__c: 'create',
    Legal_Entity__c: event.legalEntity,
    D365_Customer_Number__c: null,
    Changed_Fields__c: ACCOUNT_MAPPED_FIELDS.join(','),
    Payload__c: JSON.stringify(
      Object.fromEntries(ACCOUNT_PAYLOAD_KEYS.map((key) => [key, row[key] ?? null]))
    )
  };
}

export class InvalidEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidEventError';
  }
}

const SALESFORCE_ID = /^[A-Za-z0-9]{18}$/;

function text(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const s = String(value);
  return s.trim() === '' ? null : s;
}

/** Reads and checks a `D365_Account_Sync__e` as the relay receives it. */
export function parseAccountEvent(payload: unknown): AccountSyncEvent {
  if (!payload || typeof payload !== 'object')
    throw new InvalidEventError('Event is not an object');
  const event = payload as Record<string, unknown>;
  const recordId = text(event.Record_Id__c);
  if (!recordId || !SALESFORCE_ID.test(recordId))
    throw new InvalidEventError('Record_Id__c is not an 18-character Salesforce id');
  const idempotencyKey = text(event.Idempotency_Key__c);
  if (!idempotencyKey) throw new InvalidEventError('Idempotency_Key__c is missing');
  const operation = text(event.Operation__c);
  if (operation !== 'create' && operation !== 'update' && operation !== 'resync')
    throw new InvalidEventError(`Operation__c ${JSON.stringify(operation)} is unknown`);
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(String(event.Payload__c ?? '')) as Record<string, unknown>;
  } catch {
    throw new InvalidEventError('Payload__c is not JSON');
  }
  if (!parsed || typeof parsed !== 'object')
    throw new InvalidEventError('Payload__c is not an object');
  const account = Object.fromEntries(
    ACCOUNT_PAYLOAD_KEYS.map((key) => [key, text(parsed[key])])
  ) as unknown as AccountPayload;
  account.Id = recordId;
  const changed = text(event.Changed_Fields__c);
  return {
    recordId,
    idempotencyKey,
    operation,
    legalEntity: text(event.Legal_Entity__c)?.toLowerCase() ?? null,
    customerNumber: text(event.D365_Customer_Number__c),
    changedFields: changed
      ? changed
          .split(',')
          .map((f) => f.trim())
          .filter(Boolean)
      : [],
    account
  };
}

const COUNTRY_ALIASES: Readonly<Record<string, string>> = {
  // Names people type that the ISO list does not carry.
  ENGLAND: 'GBR',
  SCOTLAND: 'GBR',
  WALES: 'GBR',
  'NORTHERN IRELAND': 'GBR',
  'VIET NAM': 'VNM',
  KOREA: 'KOR',
  HOLLAND: 'NLD',
  DEUTSCHLAND: 'DEU'
};

/** A country as reps type it (name, ISO-2 or ISO-3 code) → the ISO-3 id D365 uses for regions; null when unknown. */
export function countryRegionId(country: string | null): string | null {
  if (!country) return null;
  const cleaned = country.trim().replace(/\./g, '').replace(/\s+/g, ' ');
  const upper = cleaned.toUpperCase();
  if (COUNTRY_ALIASES[upper]) return COUNTRY_ALIASES[upper];
  if (/^[A-Z]{2}$/.test(upper)) return countries.alpha2ToAlpha3(upper) ?? null;
  if (/^[A-Z]{3}$/.test(upper) && countries.alpha3ToAlpha2(upper)) return upper;
  const alpha2 = countries.getAlpha2Code(cleaned, 'en');
  return alpha2 ? (countries.alpha2ToAlpha3(alpha2) ?? null) : null;
}

const US_STATES: Readonly<Record<string, string>> = Object.fromEntries(
  (
    'AL Alabama|AK Alaska|AZ Arizona|AR Arkansas|CA California|CO Colorado|CT Connecticut|DE Delaware|' +
    'DC District of Columbia|FL Florida|GA Georgia|HI Hawaii|ID Idaho|IL Illinois|IN Indiana|IA Iowa|' +
    'KS Kansas|KY Kentucky|LA Louisiana|ME Maine|MD Maryland|MA Massachusetts|MI Michigan|MN Minnesota|' +
    'MS Mississippi|MO Missouri|MT Montana|NE Nebraska|NV Nevada|NH New Hampshire|NJ New Jersey|' +
    'NM New Mexico|NY New York|NC North Carolina|ND North Dakota|OH Ohio|OK Oklahoma|OR Oregon|' +
    'PA Pennsylvania|RI Rhode Island|SC South Carolina|SD South Dakota|TN Tennessee|TX Texas|UT Utah|' +
    'VT Vermont|VA Virginia|WA Washington|WV West Virginia|WI Wisconsin|WY Wyoming|PR Puerto Rico'
  )
    .split('|')
    .map((entry) => [entry.slice(3).toUpperCase(), entry.slice(0, 2)])
);

/** D365's US address format holds state codes (AddressState is 10 characters): US state names become codes. */
export function stateId(state: string | null, regionId: string | null): string | null {
  if (!state) return null;
  const trimmed = state.trim();
  if (regionId === 'USA') return US_STATES[trimmed.toUpperCase()] ?? trimmed;
  return trimmed;
}

/** D365 keeps a multi-line street in one field with `\n` between lines (LogisticsPostalAddress.Street). */
export function street(value: string | null): string | null {
  if (!value) return null;
  const lines = value
    .split(/\r\n|\r|\n/)
    .map((line) => line.trim())
    .filter(Boolean);
  return lines.length > 0 ? lines.join('\n') : null;
}

export interface CustomerSettings {
  customerGroup: string;
  defaultLegalEntity: string;
}

export interface MappedCustomer {
  dataAreaId: string;
  /** CustomersV3 fields (without the key). */
  fields: Record<string, string>;
  warnings: string[];
}

function fit(
  fields: Record<string, string>,
  warnings: string[],
  field: keyof typeof CUSTOMER_FIELD_LIMITS,
  value: string | null,
  what: string
): void {
  if (value === null) return;
  const limit = CUSTOMER_FIELD_LIMITS[field];
  if (value.length > limit) {
    fields[field] = value.slice(0, limit);
    warnings.push(`${what} cut to ${limit} characters in D365`);
  } else fields[field] = value;
}

/** Legal entity: the event's (Apex already applied the routing field and default), else the account's field, else the setting. */
export function legalEntityOf(
  event: Pick<AccountSyncEvent, 'legalEntity' | 'account'>,
  settings: Pick<CustomerSettings, 'defaultLegalEntity'>
): string {
  return (
    event.legalEntity ??
    event.account.D365_Legal_Entity__c?.trim().toLowerCase() ??
    settings.defaultLegalEntity.toLowerCase()
  );
}

/**
 * The full customer as D365 expects it. Account has no e-mail field: PrimaryContactEmail is never
 * written (contacts carry e-mail addresses).
 */
export function mapAccountToCustomer(
  event: Pick<AccountSyncEvent, 'legalEntity' | 'account'>,
  settings: CustomerSettings
): MappedCustomer {
  const { account } = event;
  const fields: Record<string, string> = {};
  const warnings: string[] = [];
  fit(fields, warnings, 'OrganizationName', account.Name?.trim() ?? null, 'Name');
  fit(fields, warnings, 'IdentificationNumber', account.Id, 'Salesforce id');
  const region = countryRegionId(account.BillingCountry);
  if (region) fields.AddressCountryRegionId = region;
  else if (account.BillingCountry)
    warnings.push(`Country "${account.BillingCountry}" is not a known country; not sent to D365`);
  fit(fields, warnings, 'AddressStreet', street(account.BillingStreet), 'Street');
  fit(fields, warnings, 'AddressCity', account.BillingCity?.trim() ?? null, 'City');
  fit(fields, warnings, 'AddressState', stateId(account.BillingState, region), 'State');
  fit(fields, warnings, 'AddressZipCode', account.BillingPostalCode?.trim() ?? null, 'Postal code');
  fit(fields, warnings, 'PrimaryContactPhone', account.Phone?.trim() ?? null, 'Phone');
  fit(fields, warnings, 'PrimaryContactURL', account.Website?.trim() ?? null, 'Website');
  if (account.CurrencyIsoCode) fields.SalesCurrencyCode = account.CurrencyIsoCode.toUpperCase();
  return { dataAreaId: legalEntityOf(event, settings), fields, warnings };
}

/** The create body: mapped fields plus the customer group from settings. */
export function customerCreateBody(
  mapped: MappedCustomer,
  settings: CustomerSettings
): Record<string, string> {
  return {
    dataAreaId: mapped.dataAreaId,
    CustomerGroupId: settings.customerGroup,
    ...mapped.fields
  };
}

/** Which CustomersV3 fields each mapped Account field feeds (for "update only what changed"). */
const CUSTOMER_FIELDS_BY_ACCOUNT_FIELD: Readonly<Record<string, readonly string[]>> = {
  Name: ['OrganizationName'],
  BillingStreet: ['AddressStreet'],
  BillingCity: ['AddressCity'],
  // The state code depends on the country, so either one re-sends both.
  BillingState: ['AddressState'],
  BillingPostalCode: ['AddressZipCode'],
  BillingCountry: ['AddressCountryRegionId', 'AddressState'],
  Phone: ['PrimaryContactPhone'],
  Website: ['PrimaryContactURL'],
  CurrencyIsoCode: ['SalesCurrencyCode']
};

/** Nulled Salesforce values clear the D365 field (D365 blanks are ''). */
const CLEARABLE = new Set([
  'AddressStreet',
  'AddressCity',
  'AddressState',
  'AddressZipCode',
  'AddressCountryRegionId',
  'PrimaryContactPhone',
  'PrimaryContactURL'
]);

/** The PATCH body of an update: only the D365 fields fed by the changed Account fields. */
export function customerPatchBody(
  mapped: MappedCustomer,
  changedFields: readonly string[]
): Record<string, string> {
  const body: Record<string, string> = {};
  for (const changed of changedFields) {
    for (const field of CUSTOMER_FIELDS_BY_ACCOUNT_FIELD[changed] ?? []) {
      const value = mapped.fields[field];
      if (value !== undefined) body[field] = value;
      else if (CLEARABLE.has(field)) body[field] = '';
    }
  }
  return body;
}

/** Joins warnings for `D365_Sync_Warning__c` (255), or null when there are none (clears an old one). */
export function warningText(warnings: readonly string[]): string | null {
  if (warnings.length === 0) return null;
  const joined = warnings.join('; ');
  return joined.length > SYNC_WARNING_MAX ? `${joined.slice(0, SYNC_WARNING_MAX - 1)}…` : joined;
}

// ---- D365-owned fields, pulled back ----

/** The D365-owned account fields the relay pulls, by ownership setting name. */
export const OWNED_FIELDS = {
  creditLimit: { d365: 'CreditLimit', salesforce: 'D365_Credit_Limit__c' },
  customerGroup: { d365: 'CustomerGroupId', salesforce: 'D365_Customer_Group__c' },
  onHold: { d365: 'OnHoldStatus', salesforce: 'D365_On_Hold__c' }
} as const;

export type OwnedField = keyof typeof OWNED_FIELDS;
export type FieldOwner = 'd365' | 'salesforce';
export type FieldOwnership = Record<OwnedField, FieldOwner>;

/** Parses `creditLimit:d365,customerGroup:salesforce,…`; unnamed fields belong to D365. */
export function parseFieldOwnership(setting: string): FieldOwnership {
  const ownership: FieldOwnership = { creditLimit: 'd365', customerGroup: 'd365', onHold: 'd365' };
  for (const part of setting
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [field, owner] = part.split(':').map((s) => s.trim());
    if (!field || !(field in OWNED_FIELDS))
      throw new Error(`Unknown field "${field}" in the field ownership setting`);
    if (owner !== 'd365' && owner !== 'salesforce')
      throw new Error(`Owner of ${field} must be d365 or salesforce, not "${owner}"`);
    ownership[field as OwnedField] = owner;
  }
  return ownership;
}

/** D365 `CustVendorBlocked` symbols → `Account.D365_On_Hold__c` values (same words). */
const ON_HOLD_VALUES = new Set(['No', 'Invoice', 'All', 'Payment', 'Requisition', 'Never']);

function salesforceValue(field: OwnedField, d365Value: unknown): string | number | null {
  if (field === 'creditLimit') {
    const n = Number(d365Value);
    return Number.isFinite(n) ? Math.round(n * 100) / 100 : null;
  }
  if (field === 'onHold') {
    const symbol = String(d365Value ?? '');
    return ON_HOLD_VALUES.has(symbol) ? symbol : null;
  }
  const s = String(d365Value ?? '').trim();
  return s === '' ? null : s;
}

function sameValue(a: unknown, b: unknown): boolean {
  if ((a === null || a === undefined || a === '') && (b === null || b === undefined || b === ''))
    return true;
  if (typeof a === 'number' || typeof b === 'number') return Number(a) === Number(b);
  return String(a) === String(b);
}

export interface OwnedFieldChanges {
  /** Integration-owned Account fields to write (D365 wins). */
  salesforce: Record<string, string | number | null>;
  /** CustomersV3 fields to PATCH (Salesforce wins). */
  d365: Record<string, string | number>;
}

/**
 * Compares one customer with its account and returns only what differs, each field going the way
 * its owner says: no write when equal, so neither side sees a change it would send back.
 */
export function ownedFieldChanges(
  customer: Record<string, unknown>,
  account: Record<string, unknown>,
  ownership: FieldOwnership
): OwnedFieldChanges {
  const changes: OwnedFieldChanges = { salesforce: {}, d365: {} };
  for (const field of Object.keys(OWNED_FIELDS) as OwnedField[]) {
    const names = OWNED_FIELDS[field];
    const fromD365 = salesforceValue(field, customer[names.d365]);
    const inSalesforce = account[names.salesforce] ?? null;
    if (sameValue(fromD365, inSalesforce)) continue;
    if (ownership[field] === 'd365') changes.salesforce[names.salesforce] = fromD365;
    else if (inSalesforce !== null && inSalesforce !== '')
      changes.d365[names.d365] =
        field === 'creditLimit' ? Number(inSalesforce) : String(inSalesforce);
  }
  return changes;
}
