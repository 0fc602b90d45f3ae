import { badRequest } from './errors.ts';
import { ENUMS, NAMESPACE, type EntityIndex, type PropertyDef } from './entities.ts';

export type Value = string | number;
export type Values = Record<string, Value>;

/** Empty date-only value as OData shows it: noon UTC of 1900-01-01 (§1.2). */
export const EMPTY_DATE = '1900-01-01T12:00:00Z';
/** Empty UtcDateTime value (DateTimeUtil::minValue()). */
export const EMPTY_DATETIME = '1900-01-01T00:00:00Z';

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** Date-only fields are stored and served as `YYYY-MM-DDT12:00:00Z`. */
export function toDateValue(input: string): string | undefined {
  if (DATE_ONLY.test(input)) return `${input}T12:00:00Z`;
  const ms = Date.parse(input);
  if (Number.isNaN(ms)) return undefined;
  return `${new Date(ms).toISOString().slice(0, 10)}T12:00:00Z`;
}

/** UtcDateTime fields carry whole seconds, `Z` suffix, no fraction. */
export function toDateTimeValue(input: string | number | Date): string | undefined {
  const ms =
    input instanceof Date ? input.getTime() : typeof input === 'number' ? input : Date.parse(input);
  if (Number.isNaN(ms)) return undefined;
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

export function today(): string {
  return `${new Date().toISOString().slice(0, 10)}T12:00:00Z`;
}

export function nowDateTime(): string {
  return `${new Date().toISOString().slice(0, 19)}Z`;
}

export function defaultValue(p: PropertyDef): Value {
  switch (p.type) {
    case 'String':
      return '';
    case 'Decimal':
    case 'Int32':
    case 'Int64':
      return 0;
    case 'Enum':
      return ENUMS[p.enumType ?? '']?.[0] ?? '';
    case 'Date':
      return EMPTY_DATE;
    case 'DateTime':
      return EMPTY_DATETIME;
  }
}

export function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

/**
 * Converts one JSON body value to the stored representation, or throws the OData 400 that a
 * type mismatch produces (message wording from the OData stack; F&O wording UNCONFIRMED).
 */
export function coerceValue(typeName: string, p: PropertyDef, raw: unknown): Value {
  const fail = (): never => {
    throw badRequest(
      `Cannot convert the literal '${String(raw)}' to the expected type '${edmType(p)}' for property '${p.name}' of type '${NAMESPACE}.${typeName}'.`
    );
  };
  switch (p.type) {
    case 'String':
      if (typeof raw !== 'string') fail();
      return raw as string;
    case 'Decimal':
    case 'Int32':
    case 'Int64': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : NaN;
      if (!Number.isFinite(n)) fail();
      if (p.type !== 'Decimal' && !Number.isInteger(n)) fail();
      return n;
    }
    case 'Enum': {
      if (typeof raw !== 'string') fail();
      const members = ENUMS[p.enumType ?? ''] ?? [];
      if (!members.includes(raw as string)) {
        throw badRequest(
          `The value '${String(raw)}' is not valid for enum type '${NAMESPACE}.${p.enumType}'.`
        );
      }
      return raw as string;
    }
    case 'Date': {
      if (typeof raw !== 'string') fail();
      return toDateValue(raw as string) ?? fail();
    }
    case 'DateTime': {
      if (typeof raw !== 'string') fail();
      return toDateTimeValue(raw as string) ?? fail();
    }
  }
}

export function edmType(p: PropertyDef): string {
  switch (p.type) {
    case 'Enum':
      return `${NAMESPACE}.${p.enumType}`;
    case 'Date':
    case 'DateTime':
      return 'Edm.DateTimeOffset';
    default:
      return `Edm.${p.type}`;
  }
}

/** Parses a request body into typed values; annotations (`@odata.type`) are ignored. */
export function coerceBody(index: EntityIndex, body: unknown): Values {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('The request body must be a JSON object that describes one entity.');
  }
  const out: Values = {};
  for (const [name, raw] of Object.entries(body as Record<string, unknown>)) {
    if (name.includes('@')) continue;
    const p = index.props.get(name);
    if (!p) {
      throw badRequest(
        `The property '${name}' does not exist on type '${NAMESPACE}.${index.def.typeName}'. Make sure to only use property names that are defined by the type.`
      );
    }
    if (raw === null) {
      out[name] = defaultValue(p);
      continue;
    }
    out[name] = coerceValue(index.def.typeName, p, raw);
  }
  return out;
}
