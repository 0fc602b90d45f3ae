/**
 * A SOQL subset, parsed into compiled predicates and executed against the in-memory tables.
 * Supported: SELECT fields, parent relationship paths (Account.Owner.Name), child subqueries,
 * COUNT(), WHERE with AND/OR/NOT, comparisons, IN / NOT IN (values or a semi-join), LIKE, null
 * checks, date and date-time literals and the common relative date literals, ORDER BY with
 * ASC/DESC and NULLS FIRST/LAST, LIMIT, OFFSET and WITH SECURITY_ENFORCED / USER_MODE.
 * Anything else is answered with MALFORMED_QUERY rather than a possibly wrong result.
 */
import { normalizeId } from './ids.ts';
import type { ChildRelationship, FieldModel, ObjectModel } from './model.ts';
import type { Database, SfRecord, Table } from './store.ts';
import { isBlank } from './store.ts';
import { parseDate, parseDateTime, toWire } from './values.ts';

/** "The maximum offset is 2,000 rows" (SOQL and SOSL Reference, OFFSET). */
const MAX_OFFSET = 2000;
const DAY_MS = 86_400_000;

export class SoqlError extends Error {
  readonly errorCode: string;
  constructor(errorCode: string, message: string) {
    super(message);
    this.errorCode = errorCode;
  }
}

// ---- lexer ------------------------------------------------------------------------------------

type TokenKind = 'ident' | 'string' | 'number' | 'date' | 'datetime' | 'op' | 'punct' | 'eof';
interface Token {
  kind: TokenKind;
  text: string;
  value?: unknown;
  like?: string;
  pos: number;
}

/**
 * "\n \r \t \b \f \" \' \\" and, for LIKE, "\_ \%"; "If you use a backslash character in any
 * other context, an error occurs" (SOQL and SOSL Reference, Quoted String Escape Sequences).
 */
const STRING_ESCAPES: Record<string, string> = {
  n: '\n',
  N: '\n',
  r: '\r',
  R: '\r',
  t: '\t',
  T: '\t',
  b: '\b',
  B: '\b',
  f: '\f',
  F: '\f',
  '"': '"',
  "'": "'",
  '\\': '\\',
  _: '_',
  '%': '%'
};

const DATETIME_TOKEN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})/;
const DATE_TOKEN = /^\d{4}-\d{2}-\d{2}(?![\dT])/;
const NUMBER_TOKEN = /^-?\d+(\.\d+)?/;
const IDENT_TOKEN = /^[A-Za-z_][A-Za-z0-9_]*/;

function lex(soql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < soql.length) {
    const ch = soql[i] as string;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const rest = soql.slice(i);
    if (ch === "'") {
      let j = i + 1;
      let value = '';
      // The same literal as a LIKE pattern (regex source): unescaped % and _ are wildcards.
      let like = '';
      for (; j < soql.length && soql[j] !== "'"; j++) {
        const ch = soql[j] as string;
        if (ch === '\\') {
          const next = soql[++j] ?? '';
          const escaped = STRING_ESCAPES[next];
          if (escaped === undefined) {
            throw syntax(
              soql,
              j - 1,
              `Invalid string literal: illegal escape sequence '\\${next}'`
            );
          }
          value += escaped;
          like += escapeRegExp(escaped);
        } else {
          value += ch;
          like += ch === '%' ? '.*' : ch === '_' ? '.' : escapeRegExp(ch);
        }
      }
      if (j >= soql.length) throw syntax(soql, i, 'unterminated string literal');
      tokens.push({ kind: 'string', text: soql.slice(i, j + 1), value, like, pos: i });
      i = j + 1;
      continue;
    }
    let m = DATETIME_TOKEN.exec(rest);
    if (m) {
      const ms = parseDateTime(m[0]);
      if (ms === null) throw syntax(soql, i, `invalid date-time: ${m[0]}`);
      tokens.push({ kind: 'datetime', text: m[0], value: ms, pos: i });
      i += m[0].length;
      continue;
    }
    m = DATE_TOKEN.exec(rest);
    if (m) {
      if (!parseDate(m[0])) throw syntax(soql, i, `invalid date: ${m[0]}`);
      tokens.push({ kind: 'date', text: m[0], value: m[0], pos: i });
      i += m[0].length;
      continue;
    }
    m = NUMBER_TOKEN.exec(rest);
    if (m && (ch !== '-' || /\d/.test(soql[i + 1] ?? ''))) {
      tokens.push({ kind: 'number', text: m[0], value: Number(m[0]), pos: i });
      i += m[0].length;
      continue;
    }
    m = IDENT_TOKEN.exec(rest);
    if (m) {
      tokens.push({ kind: 'ident', text: m[0], pos: i });
      i += m[0].length;
      continue;
    }
    const op = ['!=', '<>', '<=', '>=', '=', '<', '>'].find((o) => rest.startsWith(o));
    if (op) {
      tokens.push({ kind: 'op', text: op === '<>' ? '!=' : op, pos: i });
      i += op.length;
      continue;
    }
    if ('(),.:'.includes(ch)) {
      tokens.push({ kind: 'punct', text: ch, pos: i });
      i++;
      continue;
    }
    throw syntax(soql, i, `unexpected token: '${ch}'`);
  }
  tokens.push({ kind: 'eof', text: '<EOF>', pos: soql.length });
  return tokens;
}

/** Salesforce's error layout: the query line, a caret, then `ERROR at Row:r:Column:c`. */
function located(soql: string, pos: number, message: string): string {
  const before = soql.slice(0, pos);
  const row = before.split('\n').length;
  const lineStart = before.lastIndexOf('\n') + 1;
  const lineEnd = soql.indexOf('\n', pos);
  const line = soql.slice(lineStart, lineEnd === -1 ? undefined : lineEnd);
  const col = pos - lineStart + 1;
  return `\n${line}\n${' '.repeat(col - 1)}^\nERROR at Row:${row}:Column:${col}\n${message}`;
}

function syntax(soql: string, pos: number, message: string): SoqlError {
  return new SoqlError('MALFORMED_QUERY', located(soql, pos, message));
}

// ---- AST --------------------------------------------------------------------------------------

interface FieldPath {
  /** Reference fields walked from the queried object to the object holding `field`. */
  hops: FieldModel[];
  field: FieldModel;
}

type SelectItem =
  | { kind: 'field'; path: FieldPath }
  | { kind: 'subquery'; relationship: ChildRelationship; query: ParsedQuery };

type Predicate = (record: SfRecord) => boolean;

interface OrderItem {
  path: FieldPath;
  descending: boolean;
  nullsLast: boolean;
}

export interface ParsedQuery {
  object: ObjectModel;
  count: boolean;
  select: SelectItem[];
  where: Predicate | null;
  /** Candidate IDs from an index when WHERE pins an indexed field; null means scan. */
  lookup: ((db: Database, table: Table) => Iterable<string>) | null;
  orderBy: OrderItem[];
  limit: number | null;
  offset: number;
}

// ---- parser -----------------------------------------------------------------------------------

const UNSUPPORTED_CLAUSES = new Set(['GROUP', 'HAVING', 'TYPEOF', 'USING', 'FOR', 'UPDATE']);

class Parser {
  private readonly tokens: Token[];
  private i = 0;
  private readonly soql: string;
  private readonly db: Database;
  private readonly now: number;

  constructor(soql: string, db: Database, now: number) {
    this.soql = soql;
    this.tokens = lex(soql);
    this.db = db;
    this.now = now;
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.i + offset, this.tokens.length - 1)] as Token;
  }
  private next(): Token {
    return this.tokens[this.i++] as Token;
  }
  private isKeyword(word: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === 'ident' && t.text.toUpperCase() === word;
  }
  private expectKeyword(word: string): void {
    if (!this.isKeyword(word)) throw this.unexpected();
    this.i++;
  }
  private expectPunct(p: string): void {
    const t = this.peek();
    if (t.kind !== 'punct' || t.text !== p) throw this.unexpected();
    this.i++;
  }
  private unexpected(t = this.peek()): SoqlError {
    return syntax(
      this.soql,
      t.pos,
      `unexpected token: ${t.kind === 'eof' ? '<EOF>' : `'${t.text}'`}`
    );
  }
  private unsupported(t: Token, what: string): SoqlError {
    return new SoqlError(
      'MALFORMED_QUERY',
      located(this.soql, t.pos, `${what} is not supported by the Salesforce emulator`)
    );
  }

  parseTop(): ParsedQuery {
    const q = this.parseQuery(null);
    if (this.peek().kind !== 'eof') throw this.unexpected();
    return q;
  }

  /** `childOf` is set for a child subquery: FROM names a child relationship of that object. */
  private parseQuery(
    childOf: ObjectModel | null
  ): ParsedQuery & { relationship?: ChildRelationship } {
    this.expectKeyword('SELECT');
    const selectStart = this.i;
    // FROM comes after the select list; resolve it first so field names can be checked.
    let depth = 0;
    while (!(depth === 0 && this.isKeyword('FROM')) && this.peek().kind !== 'eof') {
      const t = this.next();
      if (t.text === '(') depth++;
      if (t.text === ')') depth--;
    }
    this.expectKeyword('FROM');
    const fromToken = this.next();
    if (fromToken.kind !== 'ident') throw this.unexpected(fromToken);
    let object: ObjectModel;
    let relationship: ChildRelationship | undefined;
    if (childOf) {
      relationship = childOf.childRelationshipsByLower.get(fromToken.text.toLowerCase());
      if (!relationship) {
        throw new SoqlError(
          'INVALID_TYPE',
          located(
            this.soql,
            fromToken.pos,
            `Didn't understand relationship '${fromToken.text}' in FROM part of query call. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.`
          )
        );
      }
      object = this.db.model.objects.get(relationship.childSObject.toLowerCase()) as ObjectModel;
    } else {
      const found = this.db.model.objects.get(fromToken.text.toLowerCase());
      if (!found || found.kind === 'event') {
        throw new SoqlError(
          'INVALID_TYPE',
          located(
            this.soql,
            fromToken.pos,
            `sObject type '${fromToken.text}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.`
          )
        );
      }
      object = found;
    }
    let alias: string | null = null;
    const aliasToken = this.peek();
    if (aliasToken.kind === 'ident' && !this.isClauseKeyword(aliasToken)) {
      alias = aliasToken.text.toLowerCase();
      this.i++;
    }
    const afterFrom = this.i;
    this.i = selectStart;
    const { select, count } = this.parseSelectList(object, alias);
    this.i = afterFrom;

    let where: Predicate | null = null;
    let lookup: ParsedQuery['lookup'] = null;
    if (this.isKeyword('WHERE')) {
      this.i++;
      const cond = this.parseCondition(object, alias);
      where = cond.predicate;
      lookup = cond.lookup;
    }
    if (this.isKeyword('WITH')) {
      this.i++;
      const t = this.next();
      const mode = t.text.toUpperCase();
      // The emulator has no field-level security: these modes change nothing here.
      if (!['SECURITY_ENFORCED', 'USER_MODE', 'SYSTEM_MODE'].includes(mode))
        throw this.unsupported(t, `WITH ${t.text}`);
    }
    const t = this.peek();
    if (t.kind === 'ident' && UNSUPPORTED_CLAUSES.has(t.text.toUpperCase())) {
      throw this.unsupported(t, t.text.toUpperCase());
    }
    const orderBy: OrderItem[] = [];
    if (this.isKeyword('ORDER')) {
      this.i++;
      this.expectKeyword('BY');
      do {
        const path = this.parsePath(object, alias);
        let descending = false;
        if (this.isKeyword('ASC')) this.i++;
        else if (this.isKeyword('DESC')) {
          descending = true;
          this.i++;
        }
        let nullsLast = descending;
        if (this.isKeyword('NULLS')) {
          this.i++;
          if (this.isKeyword('FIRST')) nullsLast = false;
          else if (this.isKeyword('LAST')) nullsLast = true;
          else throw this.unexpected();
          this.i++;
        }
        orderBy.push({ path, descending, nullsLast });
      } while (this.peek().text === ',' && this.next());
    }
    let limit: number | null = null;
    let offset = 0;
    if (this.isKeyword('LIMIT')) {
      this.i++;
      limit = this.parseCount();
    }
    if (this.isKeyword('OFFSET')) {
      this.i++;
      const offsetToken = this.peek();
      offset = this.parseCount();
      if (offset > MAX_OFFSET) {
        throw new SoqlError(
          'NUMBER_OUTSIDE_VALID_RANGE',
          located(this.soql, offsetToken.pos, `Maximum SOQL offset allowed is ${MAX_OFFSET}`)
        );
      }
    }
    const trailing = this.peek();
    if (trailing.kind === 'ident' && UNSUPPORTED_CLAUSES.has(trailing.text.toUpperCase())) {
      throw this.unsupported(trailing, trailing.text.toUpperCase());
    }
    return { object, count, select, where, lookup, orderBy, limit, offset, relationship };
  }

  private isClauseKeyword(t: Token): boolean {
    return [
      'WHERE',
      'WITH',
      'ORDER',
      'LIMIT',
      'OFFSET',
      'GROUP',
      'HAVING',
      'FOR',
      'USING'
    ].includes(t.text.toUpperCase());
  }

  private parseCount(): number {
    const t = this.next();
    if (t.kind !== 'number' || !Number.isInteger(t.value) || (t.value as number) < 0) {
      throw this.unexpected(t);
    }
    return t.value as number;
  }

  private parseSelectList(
    object: ObjectModel,
    alias: string | null
  ): { select: SelectItem[]; count: boolean } {
    const select: SelectItem[] = [];
    if (this.isKeyword('COUNT') && this.peek(1).text === '(' && this.peek(2).text === ')') {
      this.i += 3;
      if (!this.isKeyword('FROM')) throw this.unexpected();
      return { select, count: true };
    }
    for (;;) {
      const t = this.peek();
      if (t.kind === 'punct' && t.text === '(') {
        this.i++;
        const sub = this.parseQuery(object);
        this.expectPunct(')');
        select.push({
          kind: 'subquery',
          relationship: sub.relationship as ChildRelationship,
          query: sub
        });
      } else if (t.kind === 'ident' && this.peek(1).text === '(') {
        throw this.unsupported(t, `${t.text.toUpperCase()}()`);
      } else {
        select.push({ kind: 'field', path: this.parsePath(object, alias) });
      }
      if (this.peek().text !== ',') break;
      this.i++;
    }
    if (!this.isKeyword('FROM')) throw this.unexpected();
    return { select, count: false };
  }

  private parsePath(object: ObjectModel, alias: string | null): FieldPath {
    const first = this.next();
    if (first.kind !== 'ident') throw this.unexpected(first);
    // Date functions, toLabel(), convertCurrency() …
    if (this.peek().text === '(') throw this.unsupported(first, `${first.text.toUpperCase()}()`);
    const parts = [first.text];
    while (this.peek().text === '.' && this.peek(1).kind === 'ident') {
      this.i++;
      parts.push(this.next().text);
    }
    if (alias && parts.length > 1 && parts[0]?.toLowerCase() === alias) parts.shift();
    const hops: FieldModel[] = [];
    let current = object;
    for (let k = 0; k < parts.length - 1; k++) {
      const rel = current.relationshipsByLower.get((parts[k] as string).toLowerCase());
      const target = rel
        ? this.db.model.objects.get((rel.referenceTo[0] ?? '').toLowerCase())
        : undefined;
      if (!rel || !target) {
        throw new SoqlError(
          'INVALID_FIELD',
          located(
            this.soql,
            first.pos,
            `Didn't understand relationship '${parts[k]}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.`
          )
        );
      }
      hops.push(rel);
      current = target;
    }
    const name = parts[parts.length - 1] as string;
    const f = current.fieldsByLower.get(name.toLowerCase());
    if (!f) {
      throw new SoqlError(
        'INVALID_FIELD',
        located(
          this.soql,
          first.pos,
          `No such column '${name}' on entity '${current.name}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`
        )
      );
    }
    return { hops, field: f };
  }

  // WHERE: a list joined by one kind of operator; mixing AND and OR needs parentheses in SOQL.
  private parseCondition(
    object: ObjectModel,
    alias: string | null
  ): { predicate: Predicate; lookup: ParsedQuery['lookup'] } {
    const first = this.parseUnary(object, alias);
    const items = [first];
    let joiner: string | null = null;
    while (this.isKeyword('AND') || this.isKeyword('OR')) {
      const t = this.next();
      const word = t.text.toUpperCase();
      if (joiner && joiner !== word) throw this.unexpected(t);
      joiner = word;
      items.push(this.parseUnary(object, alias));
    }
    if (items.length === 1) return first;
    const predicates = items.map((x) => x.predicate);
    if (joiner === 'AND') {
      return {
        predicate: (r) => predicates.every((p) => p(r)),
        lookup: items.find((x) => x.lookup)?.lookup ?? null
      };
    }
    return { predicate: (r) => predicates.some((p) => p(r)), lookup: null };
  }

  private parseUnary(
    object: ObjectModel,
    alias: string | null
  ): { predicate: Predicate; lookup: ParsedQuery['lookup'] } {
    if (this.isKeyword('NOT')) {
      this.i++;
      const inner = this.parseUnary(object, alias);
      return { predicate: (r) => !inner.predicate(r), lookup: null };
    }
    if (this.peek().text === '(') {
      this.i++;
      const inner = this.parseCondition(object, alias);
      this.expectPunct(')');
      return inner;
    }
    return this.parseComparison(object, alias);
  }

  private parseComparison(
    object: ObjectModel,
    alias: string | null
  ): { predicate: Predicate; lookup: ParsedQuery['lookup'] } {
    const fieldToken = this.peek();
    const path = this.parsePath(object, alias);
    const f = path.field;
    if (f.type === 'textarea' && f.length > 255) {
      throw new SoqlError(
        'INVALID_FIELD',
        located(this.soql, fieldToken.pos, `field '${f.name}' can not be filtered in a query call`)
      );
    }
    const read = (r: SfRecord) => readPath(this.db, r, path);
    const opToken = this.peek();
    let negate = false;
    if (this.isKeyword('NOT') && this.isKeyword('IN', 1)) {
      this.i++;
      negate = true;
    }
    if (this.isKeyword('IN')) {
      this.i++;
      return this.parseIn(path, read, negate);
    }
    if (this.isKeyword('LIKE')) {
      this.i++;
      const t = this.next();
      if (t.kind !== 'string') throw this.unexpected(t);
      // LIKE is case-insensitive in SOQL.
      const regex = new RegExp(`^${t.like as string}$`, 'is');
      return {
        predicate: (r) => {
          const v = read(r);
          return v !== null && v !== undefined && regex.test(String(v));
        },
        lookup: null
      };
    }
    if (this.isKeyword('INCLUDES') || this.isKeyword('EXCLUDES'))
      throw this.unsupported(opToken, opToken.text);
    if (opToken.kind !== 'op') throw this.unexpected(opToken);
    this.i++;
    const valueToken = this.peek();
    const op = opToken.text;
    if (this.isKeyword('NULL')) {
      this.i++;
      if (op !== '=' && op !== '!=') throw this.unexpected(valueToken);
      return { predicate: (r) => isBlank(read(r)) === (op === '='), lookup: null };
    }
    const operand = this.parseOperand(f);
    const compare = comparator(f);
    const predicate = makeComparison(op, operand, read, compare);
    let lookup: ParsedQuery['lookup'] = null;
    if (op === '=' && path.hops.length === 0 && operand.kind === 'value') {
      lookup = indexLookup(f, [operand.value]);
    }
    return { predicate, lookup };
  }

  private parseIn(
    path: FieldPath,
    read: (r: SfRecord) => unknown,
    negate: boolean
  ): { predicate: Predicate; lookup: ParsedQuery['lookup'] } {
    this.expectPunct('(');
    if (this.isKeyword('SELECT')) {
      const subStart = this.peek();
      const sub = this.parseQuery(null);
      const only = sub.select[0];
      if (
        sub.select.length !== 1 ||
        only?.kind !== 'field' ||
        !['id', 'reference'].includes(only.path.field.type)
      ) {
        throw this.unsupported(subStart, 'a semi-join that does not select one ID field');
      }
      const db = this.db;
      let cached: Set<unknown> | null = null;
      const lazy = () => {
        cached ??= new Set(executeRaw(db, sub, false).map((r) => readPath(db, r, only.path)));
        return cached;
      };
      this.expectPunct(')');
      const canon = comparator(path.field).key;
      return {
        predicate: (r) => {
          const v = read(r);
          if (isBlank(v)) return negate;
          return lazy().has(canon(v)) !== negate;
        },
        lookup: null
      };
    }
    const values: unknown[] = [];
    for (;;) {
      const operand = this.parseOperand(path.field);
      if (operand.kind !== 'value') throw this.unexpected();
      values.push(operand.value);
      if (this.peek().text !== ',') break;
      this.i++;
    }
    this.expectPunct(')');
    const canon = comparator(path.field).key;
    const set = new Set(values.map((v) => (v === null ? null : canon(v))));
    return {
      predicate: (r) => {
        const v = read(r);
        const present = isBlank(v) ? set.has(null) : set.has(canon(v));
        return present !== negate;
      },
      lookup: negate || path.hops.length > 0 ? null : indexLookup(path.field, values)
    };
  }

  /** A literal typed for the field it is compared with, as SOQL checks it. */
  private parseOperand(f: FieldModel): Operand {
    const t = this.next();
    const mismatch = (expected: string, quoted: boolean) =>
      new SoqlError(
        'INVALID_QUERY_FILTER_OPERATOR',
        located(
          this.soql,
          t.pos,
          `value of filter criterion for field '${f.name}' must be of type ${expected} and should ${quoted ? '' : 'not '}be enclosed in quotes`
        )
      );
    if (t.kind === 'ident' && t.text.toUpperCase() === 'NULL')
      return { kind: 'value', value: null };
    switch (f.type) {
      case 'boolean':
        if (t.kind === 'ident' && ['TRUE', 'FALSE'].includes(t.text.toUpperCase())) {
          return { kind: 'value', value: t.text.toUpperCase() === 'TRUE' };
        }
        throw mismatch('boolean', false);
      case 'double':
      case 'currency':
      case 'percent':
      case 'int':
        if (t.kind === 'number') return { kind: 'value', value: t.value };
        throw mismatch('double', false);
      case 'date':
      case 'datetime': {
        const isDate = f.type === 'date';
        if (t.kind === 'date' && isDate) {
          const start = Date.parse(`${t.value as string}T00:00:00Z`);
          return { kind: 'range', start, end: start + DAY_MS };
        }
        if (t.kind === 'datetime' && !isDate) return { kind: 'value', value: t.value };
        if (t.kind === 'ident') return this.relativeDate(t);
        throw mismatch(isDate ? 'date' : 'dateTime', false);
      }
      case 'id':
      case 'reference': {
        if (t.kind !== 'string') throw mismatch('id', true);
        const id = normalizeId(t.value as string);
        if (!id) {
          throw new SoqlError(
            'INVALID_QUERY_FILTER_OPERATOR',
            located(this.soql, t.pos, `invalid ID field: ${t.value as string}`)
          );
        }
        return { kind: 'value', value: id };
      }
      default:
        if (t.kind !== 'string') throw mismatch('string', true);
        return { kind: 'value', value: t.value };
    }
  }

  private relativeDate(t: Token): Operand {
    const name = t.text.toUpperCase();
    let n = 0;
    if (name.endsWith('_N_DAYS') || name === 'N_DAYS_AGO') {
      this.expectPunct(':');
      n = this.parseCount();
    }
    const today = Math.floor(this.now / DAY_MS) * DAY_MS;
    const day = new Date(today);
    const weekStart = today - day.getUTCDay() * DAY_MS; // en_US weeks start on Sunday
    const month = (delta: number) => Date.UTC(day.getUTCFullYear(), day.getUTCMonth() + delta, 1);
    const year = (delta: number) => Date.UTC(day.getUTCFullYear() + delta, 0, 1);
    const ranges: Record<string, () => [number, number]> = {
      YESTERDAY: () => [today - DAY_MS, today],
      TODAY: () => [today, today + DAY_MS],
      TOMORROW: () => [today + DAY_MS, today + 2 * DAY_MS],
      LAST_WEEK: () => [weekStart - 7 * DAY_MS, weekStart],
      THIS_WEEK: () => [weekStart, weekStart + 7 * DAY_MS],
      NEXT_WEEK: () => [weekStart + 7 * DAY_MS, weekStart + 14 * DAY_MS],
      LAST_MONTH: () => [month(-1), month(0)],
      THIS_MONTH: () => [month(0), month(1)],
      NEXT_MONTH: () => [month(1), month(2)],
      LAST_YEAR: () => [year(-1), year(0)],
      THIS_YEAR: () => [year(0), year(1)],
      NEXT_YEAR: () => [year(1), year(2)],
      // "LAST_N_DAYS:n … starts with the current day and continues for the past n days."
      LAST_90_DAYS: () => [today - 90 * DAY_MS, today + DAY_MS],
      NEXT_90_DAYS: () => [today + DAY_MS, today + 91 * DAY_MS],
      LAST_N_DAYS: () => [today - n * DAY_MS, today + DAY_MS],
      NEXT_N_DAYS: () => [today + DAY_MS, today + (n + 1) * DAY_MS],
      N_DAYS_AGO: () => [today - n * DAY_MS, today - (n - 1) * DAY_MS]
    };
    const range = ranges[name];
    if (!range) throw this.unsupported(t, `date literal ${t.text}`);
    const [start, end] = range();
    return { kind: 'range', start, end };
  }
}

type Operand = { kind: 'value'; value: unknown } | { kind: 'range'; start: number; end: number };

interface Comparator {
  /** Canonical form used for equality and IN. */
  key: (v: unknown) => unknown;
  /** Ordering; both values non-null. */
  order: (a: unknown, b: unknown) => number;
  /** Stored value → epoch ms, for date ranges. */
  ms: (v: unknown) => number;
}

function comparator(f: FieldModel): Comparator {
  const dateMs = (v: unknown) =>
    f.type === 'date' ? Date.parse(`${v as string}T00:00:00Z`) : (v as number);
  const textual = !['boolean', 'double', 'currency', 'percent', 'int', 'date', 'datetime'].includes(
    f.type
  );
  // "String comparisons using the equals operator are case-sensitive for unique case-sensitive
  // fields and case-insensitive for all other fields" (SOQL Comparison Operators).
  const caseSensitive = f.caseSensitive && f.unique;
  const key =
    f.type === 'id' || f.type === 'reference'
      ? (v: unknown) => normalizeId(String(v)) ?? v
      : textual && !caseSensitive
        ? (v: unknown) => String(v).toLowerCase()
        : (v: unknown) => v;
  const order = textual
    ? (a: unknown, b: unknown) => {
        const x = String(a).toLowerCase();
        const y = String(b).toLowerCase();
        return x < y ? -1 : x > y ? 1 : 0;
      }
    : (a: unknown, b: unknown) => {
        const x = f.type === 'date' ? dateMs(a) : Number(a);
        const y = f.type === 'date' ? dateMs(b) : Number(b);
        return x - y;
      };
  return { key, order, ms: dateMs };
}

function makeComparison(
  op: string,
  operand: Operand,
  read: (r: SfRecord) => unknown,
  c: Comparator
): Predicate {
  if (operand.kind === 'range') {
    const { start, end } = operand;
    const test: Record<string, (ms: number) => boolean> = {
      '=': (ms) => ms >= start && ms < end,
      '!=': (ms) => ms < start || ms >= end,
      '<': (ms) => ms < start,
      '<=': (ms) => ms < end,
      '>': (ms) => ms >= end,
      '>=': (ms) => ms >= start
    };
    const fn = test[op] as (ms: number) => boolean;
    return (r) => {
      const v = read(r);
      if (isBlank(v)) return op === '!=';
      return fn(c.ms(v));
    };
  }
  const value = operand.value;
  if (value === null) {
    return (r) => isBlank(read(r)) === (op === '=');
  }
  const key = c.key(value);
  switch (op) {
    case '=':
      return (r) => {
        const v = read(r);
        return !isBlank(v) && c.key(v) === key;
      };
    case '!=':
      // SOQL's != also matches records where the field is null.
      return (r) => {
        const v = read(r);
        return isBlank(v) || c.key(v) !== key;
      };
    default: {
      const sign = {
        '<': (d: number) => d < 0,
        '<=': (d: number) => d <= 0,
        '>': (d: number) => d > 0,
        '>=': (d: number) => d >= 0
      }[op];
      if (!sign) throw new SoqlError('MALFORMED_QUERY', `unexpected operator ${op}`);
      return (r) => {
        const v = read(r);
        return !isBlank(v) && sign(c.order(v, value));
      };
    }
  }
}

function indexLookup(f: FieldModel, values: unknown[]): ParsedQuery['lookup'] {
  if (values.some((v) => v === null)) return null;
  if (f.type === 'id') {
    return (_db, table) => values.map((v) => v as string).filter((id) => table.byId.has(id));
  }
  return (db, table) => {
    if (!table.indexByField.has(f.name)) return table.byId.keys();
    const ids = new Set<string>();
    for (const v of values) for (const id of db.findBy(table, f.name, v)) ids.add(id);
    return ids;
  };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function readPath(db: Database, record: SfRecord, path: FieldPath): unknown {
  let current: SfRecord | undefined = record;
  for (const hop of path.hops) {
    const parentId: unknown = current[hop.name];
    if (isBlank(parentId)) return null;
    current = db.getById(parentId as string)?.record;
    if (!current) return null;
  }
  return current[path.field.name];
}

// ---- execution --------------------------------------------------------------------------------

const parseCache = new Map<string, { db: Database; query: ParsedQuery; day: number }>();
const PARSE_CACHE_SIZE = 500;

export function parseSoql(db: Database, soql: string, now: number): ParsedQuery {
  const day = Math.floor(now / DAY_MS);
  const cached = parseCache.get(soql);
  // Relative date literals are resolved at parse time, so a cached plan is valid for one day.
  if (cached && cached.db === db && cached.day === day) return cached.query;
  const query = new Parser(soql, db, now).parseTop();
  if (parseCache.size >= PARSE_CACHE_SIZE)
    parseCache.delete(parseCache.keys().next().value as string);
  parseCache.set(soql, { db, query, day });
  return query;
}

/** Matching stored records, ordered and windowed. */
function executeRaw(db: Database, q: ParsedQuery, includeDeleted: boolean): SfRecord[] {
  const table = db.table(q.object.name);
  if (!table) return [];
  const candidates: Iterable<string> = q.lookup ? q.lookup(db, table) : table.byId.keys();
  let rows: SfRecord[] = [];
  for (const id of candidates) {
    const r = table.byId.get(id);
    if (!r || (!includeDeleted && r.IsDeleted === true)) continue;
    if (q.where && !q.where(r)) continue;
    rows.push(r);
  }
  if (q.orderBy.length > 0) rows = sortRows(db, rows, q.orderBy);
  const end = q.limit === null ? undefined : q.offset + q.limit;
  return q.offset || end !== undefined ? rows.slice(q.offset, end) : rows;
}

function sortRows(db: Database, rows: SfRecord[], orderBy: OrderItem[]): SfRecord[] {
  const keys = orderBy.map((o) => ({ o, c: comparator(o.path.field) }));
  const decorated = rows.map((r) => ({ r, v: keys.map(({ o }) => readPath(db, r, o.path)) }));
  decorated.sort((a, b) => {
    for (let k = 0; k < keys.length; k++) {
      const { o, c } = keys[k] as { o: OrderItem; c: Comparator };
      const x = a.v[k];
      const y = b.v[k];
      const xNull = isBlank(x);
      const yNull = isBlank(y);
      if (xNull || yNull) {
        if (xNull && yNull) continue;
        return xNull === o.nullsLast ? 1 : -1;
      }
      const d = c.order(x, y);
      if (d !== 0) return o.descending ? -d : d;
    }
    return 0;
  });
  return decorated.map((d) => d.r);
}

export interface QueryOutput {
  totalSize: number;
  records: SfRecord[];
}

export function executeSoql(
  db: Database,
  q: ParsedQuery,
  options: { includeDeleted: boolean; version: string }
): QueryOutput {
  const rows = executeRaw(db, q, options.includeDeleted);
  if (q.count) return { totalSize: rows.length, records: [] };
  return { totalSize: rows.length, records: rows.map((r) => project(db, q, r, options)) };
}

function attributes(object: string, id: unknown, version: string): SfRecord {
  return { type: object, url: `/services/data/v${version}/sobjects/${object}/${String(id)}` };
}

function project(
  db: Database,
  q: ParsedQuery,
  record: SfRecord,
  options: { includeDeleted: boolean; version: string }
): SfRecord {
  const out: SfRecord = { attributes: attributes(q.object.name, record.Id, options.version) };
  for (const item of q.select) {
    if (item.kind === 'subquery') {
      const rel = item.relationship;
      const childTable = db.table(rel.childSObject) as Table;
      const childIds = db.childrenOf(childTable, rel.field, record.Id as string);
      let children: SfRecord[] = [];
      if (childIds) {
        const sub: ParsedQuery = { ...item.query, lookup: () => childIds };
        children = executeRaw(db, sub, options.includeDeleted).map((c) =>
          project(db, item.query, c, options)
        );
      }
      out[rel.relationshipName] =
        children.length === 0
          ? null
          : { totalSize: children.length, done: true, records: children };
      continue;
    }
    const { hops, field } = item.path;
    let target = out;
    let current: SfRecord | undefined = record;
    let broken = false;
    for (const hop of hops) {
      const rel = hop.relationshipName as string;
      const parentId: unknown = current?.[hop.name];
      const parent: ReturnType<Database['getById']> | undefined = isBlank(parentId)
        ? undefined
        : db.getById(parentId as string);
      if (!parent) {
        if (!(rel in target)) target[rel] = null;
        broken = true;
        break;
      }
      current = parent.record;
      let nested = target[rel] as SfRecord | null | undefined;
      if (!nested) {
        nested = {
          attributes: attributes(parent.table.object.name, parent.record.Id, options.version)
        };
        target[rel] = nested;
      }
      target = nested;
    }
    if (!broken && current) target[field.name] = toWire(field, current[field.name]);
  }
  return out;
}

/** Flat CSV columns of a query (`Account.Name`), for Bulk query results; null for COUNT() or subqueries. */
export function selectColumns(
  q: ParsedQuery
): { name: string; read: (r: SfRecord) => string }[] | null {
  if (q.count || q.select.some((s) => s.kind === 'subquery')) return null;
  return q.select.map((item) => {
    const path = (item as { path: FieldPath }).path;
    const names = [...path.hops.map((h) => h.relationshipName as string), path.field.name];
    return {
      name: names.join('.'),
      read: (r: SfRecord) => {
        let current: unknown = r;
        for (const n of names) {
          if (current === null || typeof current !== 'object') return '';
          current = (current as SfRecord)[n];
        }
        return current === null || current === undefined ? '' : String(current);
      }
    };
  });
}

const APEX_TYPES: Record<string, string> = {
  id: 'Id',
  reference: 'Id',
  boolean: 'Boolean',
  double: 'Double',
  currency: 'Decimal',
  percent: 'Decimal',
  int: 'Integer',
  date: 'Date',
  datetime: 'Datetime',
  time: 'Time'
};

function column(f: FieldModel, columnName: string, displayName: string): Record<string, unknown> {
  const numeric = ['double', 'currency', 'percent', 'int'].includes(f.type);
  return {
    aggregate: false,
    apexType: APEX_TYPES[f.type] ?? 'String',
    booleanType: f.type === 'boolean',
    columnName,
    custom: f.custom,
    displayName,
    foreignKeyName: null,
    insertable: f.createable,
    joinColumns: [],
    numberType: numeric,
    textType: !numeric && !(f.type in APEX_TYPES),
    updatable: f.updateable
  };
}

/**
 * The column description `/query?q=…&columns=true` returns (what the Salesforce CLI's
 * `sf data query` reads before running the query): parent paths nest as joinColumns.
 */
export function columnMetadata(q: ParsedQuery): Record<string, unknown> {
  const columns: Record<string, unknown>[] = [];
  const byRelationship = new Map<string, Record<string, unknown>>();
  for (const item of q.select) {
    if (item.kind === 'subquery') {
      const sub = columnMetadata(item.query).columnMetadata as Record<string, unknown>[];
      columns.push({
        ...column(
          item.query.object.fields[0] as FieldModel,
          item.relationship.relationshipName,
          item.relationship.relationshipName
        ),
        aggregate: true,
        apexType: null,
        joinColumns: sub
      });
      continue;
    }
    const { hops, field } = item.path;
    let siblings = columns;
    let prefix = '';
    for (const hop of hops) {
      const name = hop.relationshipName as string;
      prefix = prefix ? `${prefix}.${name}` : name;
      let parent = byRelationship.get(prefix);
      if (!parent) {
        parent = { ...column(hop, name, prefix), apexType: null, joinColumns: [] };
        byRelationship.set(prefix, parent);
        siblings.push(parent);
      }
      siblings = parent.joinColumns as Record<string, unknown>[];
    }
    siblings.push(column(field, field.name, prefix ? `${prefix}.${field.name}` : field.name));
  }
  return {
    columnMetadata: columns,
    entityName: q.object.name,
    groupBy: false,
    idSelected: q.select.some(
      (s) => s.kind === 'field' && s.path.hops.length === 0 && s.path.field.type === 'id'
    ),
    keyPrefix: q.object.keyPrefix
  };
}
