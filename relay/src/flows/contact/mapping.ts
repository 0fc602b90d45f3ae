/**
 * Contact → D365 contact person (`ContactPersons`). Pure functions; every lossy step warns (the
 * handler writes the warnings to `Contact.D365_Sync_Warning__c` and the sync result event).
 */

/** ContactPersons field sizes: first/last name 25 (Name EDTs), e-mail and phone 255, job title 60. */
export const CONTACT_FIELD_LIMITS = {
  FirstName: 25,
  LastName: 25,
  PrimaryEmailAddress: 255,
  PrimaryPhoneNumber: 255,
  EmploymentJobTitle: 60
} as const;

export interface ContactPayload {
  Id: string;
  AccountId: string | null;
  FirstName: string | null;
  LastName: string | null;
  Email: string | null;
  Phone: string | null;
  Title: string | null;
  D365_Contact_Person_Id__c: string | null;
  Account: { D365_Customer_Number__c: string | null; D365_Legal_Entity__c: string | null };
}

export interface ContactSyncEvent {
  recordId: string;
  idempotencyKey: string;
  operation: 'create' | 'update';
  accountId: string;
  legalEntity: string | null;
  contactPersonId: string | null;
  changedFields: string[];
  contact: ContactPayload;
}

/** Fields of `D365_Contact_Sync__e` the flow reads; a test compares them with force-app. */
export const CONTACT_EVENT_FIELDS = [
  'Record_Id__c',
  'Idempotency_Key__c',
  'Operation__c',
  'Account_Id__c',
  'Legal_Entity__c',
  'D365_Contact_Person_Id__c',
  'Changed_Fields__c',
  'Payload__c'
] as const;

export const CONTACT_PAYLOAD_KEYS = [
  'Id',
  'AccountId',
  'FirstName',
  'LastName',
  'Email',
  'Phone',
  'Title',
  'D365_Contact_Person_Id__c',
  'Account'
] as const;

export class InvalidContactEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidContactEventError';
  }
}

const SALESFORCE_ID = /^[A-Za-z0-9]{18}$/;

function text(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const s = String(value);
  return s.trim() === '' ? null : s;
}

export function parseContactEvent(payload: unknown): ContactSyncEvent {
  if (!payload || typeof payload !== 'object')
    throw new InvalidContactEventError('Event is not an object');
  const event = payload as Record<string, unknown>;
  const recordId = text(event.Record_Id__c);
  if (!recordId || !SALESFORCE_ID.test(recordId))
    throw new InvalidContactEventError('Record_Id__c is not an 18-character Salesforce id');
  const accountId = text(event.Account_Id__c);
  if (!accountId || !SALESFORCE_ID.test(accountId))
    throw new InvalidContactEventError('Account_Id__c is not an 18-character Salesforce id');
  const idempotencyKey = text(event.Idempotency_Key__c);
  if (!idempotencyKey) throw new InvalidContactEventError('Idempotency_Key__c is missing');
  const operation = text(event.Operation__c);
  if (operation !== 'create' && operation !== 'update')
    throw new InvalidContactEventError(`Operation__c ${JSON.stringify(operation)} is unknown`);
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(String(event.Payload__c ?? '')) as Record<string, unknown>;
  } catch {
    throw new InvalidContactEventError('Payload__c is not JSON');
  }
  if (!parsed || typeof parsed !== 'object')
    throw new InvalidContactEventError('Payload__c is not an object');
  const account = (parsed.Account ?? {}) as Record<string, unknown>;
  const changed = text(event.Changed_Fields__c);
  return {
    recordId,
    idempotencyKey,
    operation,
    accountId,
    legalEntity: text(event.Legal_Entity__c)?.toLowerCase() ?? null,
    contactPersonId: text(event.D365_Contact_Person_Id__c),
    changedFields: changed
      ? changed
          .split(',')
          .map((f) => f.trim())
          .filter(Boolean)
      : [],
    contact: {
      Id: recordId,
      AccountId: accountId,
      FirstName: text(parsed.FirstName),
      LastName: text(parsed.LastName),
      Email: text(parsed.Email),
      Phone: text(parsed.Phone),
      Title: text(parsed.Title),
      D365_Contact_Person_Id__c: text(parsed.D365_Contact_Person_Id__c),
      Account: {
        D365_Customer_Number__c: text(account.D365_Customer_Number__c),
        D365_Legal_Entity__c: text(account.D365_Legal_Entity__c)
      }
    }
  };
}

export interface MappedContactPerson {
  fields: Record<string, string>;
  warnings: string[];
}

const SOURCE: ReadonlyArray<[keyof ContactPayload, keyof typeof CONTACT_FIELD_LIMITS, string]> = [
  ['FirstName', 'FirstName', 'First name'],
  ['LastName', 'LastName', 'Last name'],
  ['Email', 'PrimaryEmailAddress', 'Email'],
  ['Phone', 'PrimaryPhoneNumber', 'Phone'],
  ['Title', 'EmploymentJobTitle', 'Title']
];

export function mapContactToPerson(contact: ContactPayload): MappedContactPerson {
  const fields: Record<string, string> = {};
  const warnings: string[] = [];
  for (const [source, target, label] of SOURCE) {
    const value = (contact[source] as string | null)?.trim() ?? null;
    if (value === null) continue;
    const limit = CONTACT_FIELD_LIMITS[target];
    if (value.length > limit) {
      fields[target] = value.slice(0, limit);
      warnings.push(`${label} cut to ${limit} characters in D365`);
    } else fields[target] = value;
  }
  return { fields, warnings };
}

const TARGET_BY_CONTACT_FIELD: Readonly<Record<string, keyof typeof CONTACT_FIELD_LIMITS>> = {
  FirstName: 'FirstName',
  LastName: 'LastName',
  Email: 'PrimaryEmailAddress',
  Phone: 'PrimaryPhoneNumber',
  Title: 'EmploymentJobTitle'
};

/** PATCH body of an update: the changed fields only; a cleared value clears D365's (except LastName, required). */
export function personPatchBody(
  mapped: MappedContactPerson,
  changedFields: readonly string[]
): Record<string, string> {
  const body: Record<string, string> = {};
  for (const changed of changedFields) {
    const target = TARGET_BY_CONTACT_FIELD[changed];
    if (!target) continue;
    const value = mapped.fields[target];
    if (value !== undefined) body[target] = value;
    else if (target !== 'LastName') body[target] = '';
  }
  return body;
}

/** Same person on the same customer: same e-mail (case-insensitive), or same full name when either has no e-mail. */
export function isSamePerson(
  existing: Record<string, unknown>,
  mapped: MappedContactPerson
): boolean {
  const email = mapped.fields.PrimaryEmailAddress?.toLowerCase();
  const theirs = String(existing.PrimaryEmailAddress ?? '').toLowerCase();
  if (email && theirs) return email === theirs;
  const name = (first: unknown, last: unknown) =>
    `${String(first ?? '').trim()} ${String(last ?? '').trim()}`.toLowerCase();
  return (
    name(existing.FirstName, existing.LastName) ===
    name(mapped.fields.FirstName, mapped.fields.LastName)
  );
}
