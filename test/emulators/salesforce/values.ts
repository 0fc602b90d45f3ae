/** Conversion of JSON and CSV input values to stored values, and of stored values to wire values. */
import type { FieldModel } from './model.ts';
import { normalizeId } from './ids.ts';

export interface DmlError {
  statusCode: string;
  message: string;
  fields: string[];
}

export const dmlError = (statusCode: string, message: string, fields: string[] = []): DmlError => ({
  statusCode,
  message,
  fields
});

/** Stored value or an error. Datetimes are stored as epoch ms, dates as `YYYY-MM-DD`. */
export type Coerced = { ok: true; value: unknown } | { ok: false; error: DmlError };

const ok = (value: unknown): Coerced => ({ ok: true, value });
const fail = (error: DmlError): Coerced => ({ ok: false, error });

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;
// Deliberately loose: Salesforce accepts most RFC 5322 local parts; this rejects the obvious garbage.
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const NUMERIC_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export function parseDate(text: string): string | null {
  const m = DATE_RE.exec(text);
  if (!m) return null;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]) ? text : null;
}

/** ISO 8601 date-time → epoch ms; a value without zone is UTC (the emulated org's time zone). */
export function parseDateTime(text: string): number | null {
  const m = DATETIME_RE.exec(text);
  if (!m) return null;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '0', zone] = m;
  let ms = Date.UTC(
    Number(y),
    Number(mo) - 1,
    Number(d),
    Number(h),
    Number(mi),
    Number(s),
    Number(frac.padEnd(3, '0').slice(0, 3))
  );
  if (Number.isNaN(ms) || Number(mo) > 12 || Number(d) > 31 || Number(h) > 23 || Number(mi) > 59) {
    return null;
  }
  if (zone && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  return ms;
}

/** `2024-05-01T10:00:00.000+0000`, the REST API's date-time format. */
export function formatDateTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

function jsonError(typeName: string, value: unknown): DmlError {
  const shown = typeof value === 'string' ? value : JSON.stringify(value);
  return dmlError(
    'JSON_PARSER_ERROR',
    `Cannot deserialize instance of ${typeName} from VALUE_STRING value ${shown} or request may be missing a required field`
  );
}

function typeError(f: FieldModel, value: unknown): DmlError {
  return dmlError(
    'INVALID_TYPE_ON_FIELD_IN_RECORD',
    `${f.label}: value not of required type: ${String(value)}`,
    [f.name]
  );
}

/** Converts a value from a REST JSON body. Empty strings are null, as in Salesforce. */
export function coerceJson(f: FieldModel, value: unknown): Coerced {
  if (value === null || value === undefined || value === '') {
    return ok(f.type === 'boolean' ? false : null);
  }
  switch (f.type) {
    case 'boolean':
      if (typeof value === 'boolean') return ok(value);
      if (value === 'true' || value === 'false') return ok(value === 'true');
      return fail(jsonError('boolean', value));
    case 'double':
    case 'currency':
    case 'percent':
    case 'int': {
      const n =
        typeof value === 'number'
          ? value
          : typeof value === 'string' && NUMERIC_RE.test(value.trim())
            ? Number(value)
            : NaN;
      if (!Number.isFinite(n)) return fail(jsonError(f.type === 'int' ? 'int' : 'double', value));
      return checkNumber(f, n);
    }
    case 'date': {
      if (typeof value !== 'string') return fail(jsonError('date', value));
      const d = parseDate(value) ?? (parseDateTime(value) !== null ? value.slice(0, 10) : null);
      return d ? ok(d) : fail(jsonError('date', value));
    }
    case 'datetime': {
      if (typeof value !== 'string') return fail(jsonError('datetime', value));
      const ms = parseDateTime(value);
      return ms === null ? fail(jsonError('datetime', value)) : ok(ms);
    }
    case 'reference':
    case 'id':
      return typeof value === 'string' ? coerceId(f, value) : fail(jsonError('id', value));
    default:
      if (typeof value === 'object') return fail(jsonError('String', value));
      return checkText(f, String(value));
  }
}

/** Converts a Bulk API CSV cell. The caller handles blanks (ignored) and `#N/A` (null). */
export function coerceCsv(f: FieldModel, text: string): Coerced {
  switch (f.type) {
    case 'boolean': {
      const t = text.toLowerCase();
      if (t === 'true' || t === '1' || t === 'yes') return ok(true);
      if (t === 'false' || t === '0' || t === 'no') return ok(false);
      return fail(typeError(f, text));
    }
    case 'double':
    case 'currency':
    case 'percent':
    case 'int':
      return NUMERIC_RE.test(text.trim()) ? checkNumber(f, Number(text)) : fail(typeError(f, text));
    case 'date': {
      const d = parseDate(text) ?? (parseDateTime(text) !== null ? text.slice(0, 10) : null);
      return d ? ok(d) : fail(typeError(f, text));
    }
    case 'datetime': {
      const ms = parseDateTime(text);
      return ms === null ? fail(typeError(f, text)) : ok(ms);
    }
    case 'reference':
    case 'id':
      return coerceId(f, text);
    default:
      return checkText(f, text);
  }
}

function coerceId(f: FieldModel, text: string): Coerced {
  const id = normalizeId(text);
  if (!id) {
    return fail(
      dmlError('MALFORMED_ID', `${f.label}: id value of incorrect type: ${text}`, [f.name])
    );
  }
  return ok(id);
}

function checkNumber(f: FieldModel, n: number): Coerced {
  const scale = f.type === 'int' ? 0 : f.scale;
  const factor = 10 ** scale;
  const rounded = Math.round(n * factor) / factor;
  const integerDigits = f.type === 'int' ? f.digits || 9 : (f.precision || 18) - scale;
  if (Math.abs(rounded) >= 10 ** integerDigits) {
    return fail(
      dmlError(
        'NUMBER_OUTSIDE_VALID_RANGE',
        `${f.label}: value outside of valid range on numeric field: ${n}`,
        [f.name]
      )
    );
  }
  return ok(rounded);
}

function checkText(f: FieldModel, text: string): Coerced {
  if (f.length > 0 && text.length > f.length) {
    return fail(
      dmlError(
        'STRING_TOO_LONG',
        `${f.label}: data value too large: ${text} (max length=${f.length})`,
        [f.name]
      )
    );
  }
  if (f.type === 'email' && !EMAIL_RE.test(text)) {
    return fail(
      dmlError('INVALID_EMAIL_ADDRESS', `${f.label}: invalid email address: ${text}`, [f.name])
    );
  }
  if (f.restrictedPicklist) {
    const allowed = (v: string) => f.picklistValues.some((p) => p.active && p.value === v);
    const parts = f.type === 'multipicklist' ? text.split(';') : [text];
    const bad = parts.find((p) => !allowed(p));
    if (bad !== undefined) {
      return fail(
        dmlError(
          'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
          `${f.label}: bad value for restricted picklist field: ${bad}`,
          [f.name]
        )
      );
    }
  }
  return ok(text);
}

/** Stored value → JSON wire value. */
export function toWire(f: FieldModel, value: unknown): unknown {
  if (value === undefined || value === null) return f.type === 'boolean' ? false : null;
  if (f.type === 'datetime') return formatDateTime(value as number);
  return value;
}

/** Stored value → CSV cell text (Bulk results, Bulk query). */
export function toCsvText(f: FieldModel, value: unknown): string {
  if (value === undefined || value === null) return '';
  if (f.type === 'datetime') return new Date(value as number).toISOString();
  return String(value);
}
