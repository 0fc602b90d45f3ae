/**
 * OData v4 literals, entity keys and $filter expressions for D365 F&O, built so that values taken from
 * customer data (names, ids with quotes, slashes, asterisks) can never change the shape of a request.
 */

/** An enum literal as D365 expects it in filters: `Microsoft.Dynamics.DataEntities.NoYes'Yes'`. */
export interface EnumValue {
  readonly enumType: string;
  readonly symbol: string;
}

export type ODataValue = string | number | boolean | Date | EnumValue | null;

export const D365_ENTITY_NAMESPACE = 'Microsoft.Dynamics.DataEntities';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function enumValue(enumType: string, symbol: string): EnumValue {
  assertIdentifier(enumType, 'enum type');
  assertIdentifier(symbol, 'enum symbol');
  return { enumType, symbol };
}

/** Property and entity-set names go into URLs unquoted, so only plain identifiers are accepted. */
export function assertIdentifier(name: string, what = 'property name'): void {
  if (!IDENTIFIER.test(name)) throw new TypeError(`Invalid OData ${what}: ${JSON.stringify(name)}`);
}

/**
 * Formats a value as an OData literal. Strings are single-quoted with embedded quotes doubled
 * (OData ABNF: SQUOTE-in-string = SQUOTE SQUOTE); dates are unquoted DateTimeOffset literals.
 */
export function odataLiteral(value: ODataValue): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return `'${value.replaceAll("'", "''")}'`;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`Cannot express ${value} as an OData literal`);
    return String(value);
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime()))
      throw new TypeError('Cannot express an invalid Date as an OData literal');
    return value.toISOString().replace('.000Z', 'Z');
  }
  return `${D365_ENTITY_NAMESPACE}.${value.enumType}'${value.symbol}'`;
}

/**
 * Named entity key for a URL path segment: `(dataAreaId='usmf',CustomerAccount='O''Brien')`.
 * Literals are percent-encoded as well, so `/`, `?`, `#` and `%` in values stay inside the key.
 */
export function entityKey(key: Readonly<Record<string, ODataValue>>): string {
  const parts = Object.entries(key).map(([name, value]) => {
    assertIdentifier(name);
    if (value === null) throw new TypeError(`Key property ${name} cannot be null`);
    return `${name}=${encodeKeyLiteral(odataLiteral(value))}`;
  });
  if (parts.length === 0) throw new TypeError('An entity key needs at least one property');
  return `(${parts.join(',')})`;
}

function encodeKeyLiteral(literal: string): string {
  // encodeURIComponent leaves ' ( ) * ! ~ unescaped; quotes are already doubled, and the rest are harmless
  // inside a quoted literal, so only the characters that would end the path segment early get encoded.
  return encodeURIComponent(literal);
}

/** Path of one entity: `CustomersV3(dataAreaId='usmf',CustomerAccount='US-001')`. */
export function entityPath(entitySet: string, key: Readonly<Record<string, ODataValue>>): string {
  assertIdentifier(entitySet, 'entity set');
  return `${entitySet}${entityKey(key)}`;
}

/** A $filter expression built from parts; only this module creates them, so their text is always well-formed. */
export interface Filter {
  readonly text: string;
}

type Comparison = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';

function compare(op: Comparison, property: string, value: ODataValue): Filter {
  assertIdentifier(property);
  if (
    typeof value === 'object' &&
    value !== null &&
    !(value instanceof Date) &&
    op !== 'eq' &&
    op !== 'ne'
  ) {
    // D365: "The operations supported for enums are eq and ne."
    throw new TypeError(`D365 supports only eq and ne on enum ${property}`);
  }
  if ((op === 'eq' || op === 'ne') && typeof value === 'string' && value.includes('*')) {
    // D365 treats * inside a string eq as a wildcard and documents no escape for it, so an exact match on
    // such a value cannot be expressed; refusing it keeps customer data from widening the match.
    throw new TypeError(
      `Exact ${op} on ${property} cannot contain '*' (D365 wildcard); use filter.contains`
    );
  }
  return { text: `${property} ${op} ${odataLiteral(value)}` };
}

function combine(op: 'and' | 'or', parts: readonly Filter[]): Filter {
  if (parts.length === 0) throw new TypeError(`${op} needs at least one condition`);
  if (parts.length === 1) return parts[0] as Filter;
  return { text: parts.map((part) => `(${part.text})`).join(` ${op} `) };
}

export const filter = {
  eq: (property: string, value: ODataValue): Filter => compare('eq', property, value),
  ne: (property: string, value: ODataValue): Filter => compare('ne', property, value),
  gt: (property: string, value: ODataValue): Filter => compare('gt', property, value),
  ge: (property: string, value: ODataValue): Filter => compare('ge', property, value),
  lt: (property: string, value: ODataValue): Filter => compare('lt', property, value),
  le: (property: string, value: ODataValue): Filter => compare('le', property, value),
  and: (...parts: Filter[]): Filter => combine('and', parts),
  or: (...parts: Filter[]): Filter => combine('or', parts),
  not: (part: Filter): Filter => ({ text: `not (${part.text})` }),
  /** D365 implements "contains" as `eq '*text*'`; the text itself may not contain the wildcard. */
  contains(property: string, text: string): Filter {
    assertIdentifier(property);
    if (text.includes('*')) throw new TypeError(`contains on ${property} cannot search for '*'`);
    return { text: `${property} eq ${odataLiteral(`*${text}*`)}` };
  },
  /** `in` is not supported by D365 ("The operators 'has' and 'in' are not supported"), so this expands to an or chain. */
  anyOf(property: string, values: readonly ODataValue[]): Filter {
    return combine(
      'or',
      values.map((value) => compare('eq', property, value))
    );
  }
};

export interface QueryOptions {
  filter?: Filter;
  select?: readonly string[];
  orderBy?: readonly string[];
  top?: number;
  skip?: number;
  count?: boolean;
  /** One level only (D365): `SalesOrderLines` or `SalesOrderLines($select=ItemNumber)`. */
  expand?: string;
  crossCompany?: boolean;
}

/** Query string for a collection request; names are validated, values are literals. */
export function queryString(options: QueryOptions): string {
  const params: string[] = [];
  if (options.filter) params.push(`$filter=${encodeURIComponent(options.filter.text)}`);
  if (options.select?.length) {
    options.select.forEach((name) => assertIdentifier(name));
    params.push(`$select=${options.select.join(',')}`);
  }
  if (options.orderBy?.length) {
    const terms = options.orderBy.map((term) => {
      const [name, direction, ...rest] = term.trim().split(/\s+/);
      assertIdentifier(name ?? '');
      if (
        rest.length > 0 ||
        (direction !== undefined && direction !== 'asc' && direction !== 'desc')
      ) {
        throw new TypeError(`Invalid $orderby term: ${JSON.stringify(term)}`);
      }
      return direction ? `${name} ${direction}` : (name as string);
    });
    params.push(`$orderby=${encodeURIComponent(terms.join(','))}`);
  }
  if (options.top !== undefined) params.push(`$top=${nonNegativeInteger(options.top, '$top')}`);
  if (options.skip !== undefined) params.push(`$skip=${nonNegativeInteger(options.skip, '$skip')}`);
  if (options.count) params.push('$count=true');
  if (options.expand) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*(\(\$select=[A-Za-z0-9_,]+\))?$/.test(options.expand)) {
      throw new TypeError(`Unsupported $expand: ${JSON.stringify(options.expand)}`);
    }
    params.push(`$expand=${encodeURIComponent(options.expand)}`);
  }
  if (options.crossCompany) params.push('cross-company=true');
  return params.join('&');
}

function nonNegativeInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0)
    throw new TypeError(`${name} must be a non-negative integer`);
  return value;
}
