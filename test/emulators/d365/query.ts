// OData query options as F&O supports them (shared/reference/d365-fo.md §1.2): $filter with
// eq ne gt ge lt le and or not, arithmetic, parentheses, enum literals (eq/ne only), `*`
// wildcards in eq; no `in`, `has` or functions. Comparisons follow SQL collation: case-insensitive.
import { ENUMS, NAMESPACE, type EntityIndex, type PropertyDef } from './entities.ts';
import { badRequest } from './errors.ts';
import { keyPart } from './store.ts';
import { toDateTimeValue, type Value, type Values } from './values.ts';

type Token =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'datetime'; value: string }
  | { kind: 'enum'; type: string; value: string }
  | { kind: 'ident'; value: string }
  | { kind: 'punct'; value: '(' | ')' | ',' };

const INVALID = 'The query specified in the URI is not valid.';

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t') {
      i++;
    } else if (c === '(' || c === ')' || c === ',') {
      out.push({ kind: 'punct', value: c });
      i++;
    } else if (c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= src.length) throw badRequest(`${INVALID} Unterminated string literal.`);
        if (src[i] === "'") {
          if (src[i + 1] === "'") {
            s += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += src[i++];
      }
      out.push({ kind: 'string', value: s });
    } else if (/[0-9-]/.test(c)) {
      const m = /^-?\d{4}-\d{2}-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2})?)?/.exec(src.slice(i));
      if (m && m[0].length >= 10 && /^\d{4}-/.test(m[0])) {
        const value = toDateTimeValue(m[1] ? m[0] : `${m[0]}T00:00:00Z`);
        if (!value) throw badRequest(`${INVALID} Invalid date literal '${m[0]}'.`);
        out.push({ kind: 'datetime', value });
        i += m[0].length;
        continue;
      }
      const n = /^-?\d+(\.\d+)?([eE][+-]?\d+)?[mMdDlLfF]?/.exec(src.slice(i));
      if (!n) throw badRequest(`${INVALID} Syntax error at position ${i}.`);
      out.push({ kind: 'number', value: parseFloat(n[0]) });
      i += n[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(src.slice(i))!;
      i += m[0].length;
      if (src[i] === "'" && m[0].includes('.')) {
        const end = src.indexOf("'", i + 1);
        if (end < 0) throw badRequest(`${INVALID} Unterminated enum literal.`);
        const dot = m[0].lastIndexOf('.');
        out.push({ kind: 'enum', type: m[0].slice(dot + 1), value: src.slice(i + 1, end) });
        i = end + 1;
        continue;
      }
      out.push({ kind: 'ident', value: m[0] });
    } else {
      throw badRequest(`${INVALID} Syntax error: character '${c}' at position ${i}.`);
    }
  }
  return out;
}

type Node =
  | { t: 'lit'; v: Value | null; enumType?: string }
  | { t: 'prop'; p: PropertyDef }
  | { t: 'not'; a: Node }
  | { t: 'bool'; op: 'and' | 'or'; a: Node; b: Node }
  | { t: 'cmp'; op: string; a: Node; b: Node }
  | { t: 'arith'; op: string; a: Node; b: Node };

const CMP = new Set(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);
const ADD = new Set(['add', 'sub']);
const MUL = new Set(['mul', 'div', 'divby', 'mod']);

class Parser {
  private pos = 0;
  private readonly tokens: Token[];
  private readonly index: EntityIndex;

  constructor(tokens: Token[], index: EntityIndex) {
    this.tokens = tokens;
    this.index = index;
  }

  parse(): Node {
    const n = this.or();
    if (this.pos < this.tokens.length)
      throw badRequest(`${INVALID} Syntax error at token ${this.pos + 1}.`);
    return n;
  }

  private peekIdent(): string | undefined {
    const t = this.tokens[this.pos];
    return t?.kind === 'ident' ? t.value : undefined;
  }

  private or(): Node {
    let a = this.and();
    while (this.peekIdent() === 'or') {
      this.pos++;
      a = { t: 'bool', op: 'or', a, b: this.and() };
    }
    return a;
  }

  private and(): Node {
    let a = this.not();
    while (this.peekIdent() === 'and') {
      this.pos++;
      a = { t: 'bool', op: 'and', a, b: this.not() };
    }
    return a;
  }

  private not(): Node {
    if (this.peekIdent() === 'not') {
      this.pos++;
      return { t: 'not', a: this.not() };
    }
    return this.cmp();
  }

  private cmp(): Node {
    const a = this.add();
    const op = this.peekIdent();
    if (op === 'in' || op === 'has')
      throw badRequest(`${INVALID} The operator '${op}' is not supported.`);
    if (op && CMP.has(op)) {
      this.pos++;
      const b = this.add();
      const enumSide = [a, b].some(
        (n) => (n.t === 'prop' && n.p.type === 'Enum') || (n.t === 'lit' && n.enumType)
      );
      if (enumSide && op !== 'eq' && op !== 'ne') {
        throw badRequest(`${INVALID} The operations supported for enums are eq and ne.`);
      }
      return { t: 'cmp', op, a, b };
    }
    return a;
  }

  private add(): Node {
    let a = this.mul();
    for (let op = this.peekIdent(); op && ADD.has(op); op = this.peekIdent()) {
      this.pos++;
      a = { t: 'arith', op, a, b: this.mul() };
    }
    return a;
  }

  private mul(): Node {
    let a = this.primary();
    for (let op = this.peekIdent(); op && MUL.has(op); op = this.peekIdent()) {
      this.pos++;
      a = { t: 'arith', op, a, b: this.primary() };
    }
    return a;
  }

  private primary(): Node {
    const tok = this.tokens[this.pos++];
    if (!tok) throw badRequest(`${INVALID} Expression expected at the end of $filter.`);
    switch (tok.kind) {
      case 'punct':
        if (tok.value === '(') {
          const n = this.or();
          const close = this.tokens[this.pos++];
          if (close?.kind !== 'punct' || close.value !== ')')
            throw badRequest(`${INVALID} ')' expected.`);
          return n;
        }
        throw badRequest(`${INVALID} Unexpected '${tok.value}'.`);
      case 'string':
        return { t: 'lit', v: tok.value };
      case 'number':
        return { t: 'lit', v: tok.value };
      case 'datetime':
        return { t: 'lit', v: tok.value };
      case 'enum': {
        const members = ENUMS[tok.type];
        if (!members || !members.includes(tok.value)) {
          throw badRequest(
            `${INVALID} The enum literal '${NAMESPACE}.${tok.type}'${tok.value}'' is not valid.`
          );
        }
        return { t: 'lit', v: tok.value, enumType: tok.type };
      }
      case 'ident': {
        if (tok.value === 'null') return { t: 'lit', v: null };
        if (tok.value === 'true' || tok.value === 'false')
          return { t: 'lit', v: tok.value === 'true' ? 1 : 0 };
        const next = this.tokens[this.pos];
        if (next?.kind === 'punct' && next.value === '(') {
          throw badRequest(
            `${INVALID} The function '${tok.value}' is not supported. Use eq with '*' wildcards.`
          );
        }
        const p = this.index.props.get(tok.value);
        if (!p) {
          throw badRequest(
            `Could not find a property named '${tok.value}' on type '${NAMESPACE}.${this.index.def.typeName}'.`
          );
        }
        return { t: 'prop', p };
      }
    }
  }
}

export type Predicate = (v: Values) => boolean;

function wildcardRegex(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`, 'is');
}

function compile(node: Node): (v: Values) => unknown {
  switch (node.t) {
    case 'lit': {
      const v = node.v;
      return () => v;
    }
    case 'prop': {
      const name = node.p.name;
      return (v) => v[name];
    }
    case 'not': {
      const a = compile(node.a);
      return (v) => !a(v);
    }
    case 'bool': {
      const a = compile(node.a);
      const b = compile(node.b);
      return node.op === 'and'
        ? (v) => Boolean(a(v)) && Boolean(b(v))
        : (v) => Boolean(a(v)) || Boolean(b(v));
    }
    case 'arith': {
      const a = compile(node.a);
      const b = compile(node.b);
      const op = node.op;
      return (v) => {
        const x = Number(a(v));
        const y = Number(b(v));
        switch (op) {
          case 'add':
            return x + y;
          case 'sub':
            return x - y;
          case 'mul':
            return x * y;
          case 'mod':
            return x % y;
          default:
            return x / y;
        }
      };
    }
    case 'cmp':
      return compileCmp(node.op, node.a, node.b);
  }
}

function compileCmp(op: string, an: Node, bn: Node): (v: Values) => boolean {
  // `Field eq 'pat*tern'`: the wildcard form of contains (§1.2).
  if (
    (op === 'eq' || op === 'ne') &&
    an.t === 'prop' &&
    bn.t === 'lit' &&
    typeof bn.v === 'string' &&
    bn.v.includes('*')
  ) {
    const re = wildcardRegex(bn.v);
    const name = an.p.name;
    return op === 'eq' ? (v) => re.test(String(v[name])) : (v) => !re.test(String(v[name]));
  }
  if (an.t === 'prop' && bn.t === 'lit' && typeof bn.v === 'string') {
    const name = an.p.name;
    const lit = bn.v.toLowerCase();
    switch (op) {
      case 'eq':
        return (v) => {
          const x = v[name];
          return typeof x === 'string' && (x === bn.v || x.toLowerCase() === lit);
        };
      case 'ne':
        return (v) => String(v[name]).toLowerCase() !== lit;
    }
  }
  const a = compile(an);
  const b = compile(bn);
  return (v) => {
    const x = a(v);
    const y = b(v);
    if (x === null || y === null || x === undefined || y === undefined) {
      return op === 'eq' ? x === y : op === 'ne' ? x !== y : false;
    }
    const c =
      typeof x === 'string' || typeof y === 'string'
        ? keyPart(String(x)) < keyPart(String(y))
          ? -1
          : keyPart(String(x)) > keyPart(String(y))
            ? 1
            : 0
        : Number(x) - Number(y);
    switch (op) {
      case 'eq':
        return c === 0;
      case 'ne':
        return c !== 0;
      case 'gt':
        return c > 0;
      case 'ge':
        return c >= 0;
      case 'lt':
        return c < 0;
      default:
        return c <= 0;
    }
  };
}

export interface CompiledFilter {
  predicate: Predicate;
  /** Top-level `Field eq 'value'` conjuncts (no wildcard), usable for index lookups. */
  equalities: Map<string, Value>;
  /** A top-level conjunct `F eq a or F eq b …` on one field: the values it allows. */
  oneOf?: { field: string; values: Value[] };
}

/** The property and literal of `Field eq literal` without wildcards, else undefined. */
function plainEquality(n: Node): { field: string; value: Value } | undefined {
  if (n.t !== 'cmp' || n.op !== 'eq' || n.a.t !== 'prop' || n.b.t !== 'lit' || n.b.v === null) {
    return undefined;
  }
  if (typeof n.b.v === 'string' && n.b.v.includes('*')) return undefined;
  return { field: n.a.p.name, value: n.b.v };
}

/** `F eq a or F eq b …` on a single field → its values; undefined for anything else. */
function equalityChain(n: Node): { field: string; values: Value[] } | undefined {
  if (n.t === 'bool' && n.op === 'or') {
    const a = equalityChain(n.a);
    const b = equalityChain(n.b);
    if (!a || !b || a.field !== b.field) return undefined;
    return { field: a.field, values: [...a.values, ...b.values] };
  }
  const eq = plainEquality(n);
  return eq && { field: eq.field, values: [eq.value] };
}

export function parseFilter(src: string, index: EntityIndex): CompiledFilter {
  const ast = new Parser(tokenize(src), index).parse();
  const equalities = new Map<string, Value>();
  let oneOf: CompiledFilter['oneOf'];
  const collect = (n: Node): void => {
    if (n.t === 'bool' && n.op === 'and') {
      collect(n.a);
      collect(n.b);
      return;
    }
    const eq = plainEquality(n);
    if (eq) equalities.set(eq.field, eq.value);
    else oneOf ??= equalityChain(n);
  };
  collect(ast);
  const fn = compile(ast);
  return { predicate: (v) => Boolean(fn(v)), equalities, ...(oneOf ? { oneOf } : {}) };
}

export interface OrderBy {
  name: string;
  desc: boolean;
}

export function parseOrderBy(src: string, index: EntityIndex): OrderBy[] {
  return src.split(',').map((part) => {
    const [name = '', dir, extra] = part.trim().split(/\s+/);
    if (
      !index.props.has(name) ||
      extra !== undefined ||
      (dir !== undefined && dir !== 'asc' && dir !== 'desc')
    ) {
      throw badRequest(
        index.props.has(name)
          ? `${INVALID} Syntax error in $orderby at '${part.trim()}'.`
          : `Could not find a property named '${name}' on type '${NAMESPACE}.${index.def.typeName}'.`
      );
    }
    return { name, desc: dir === 'desc' };
  });
}

export function compareBy(order: OrderBy[]): (a: Values, b: Values) => number {
  return (a, b) => {
    for (const o of order) {
      const x = a[o.name];
      const y = b[o.name];
      let c: number;
      if (typeof x === 'number' && typeof y === 'number') c = x - y;
      else {
        const xs = keyPart(x);
        const ys = keyPart(y);
        c = xs < ys ? -1 : xs > ys ? 1 : 0;
      }
      if (c !== 0) return o.desc ? -c : c;
    }
    return 0;
  };
}

/** `$select` property names; navigation names are allowed (they select the expansion). */
export function parseSelect(src: string, index: EntityIndex): string[] {
  const names = src.split(',').map((s) => s.trim());
  if (names.includes('*')) return index.def.properties.map((p) => p.name);
  const navigations = new Set(index.def.navigations.map((n) => n.name));
  const out: string[] = [];
  for (const n of names) {
    if (navigations.has(n)) continue;
    if (!index.props.has(n)) {
      throw badRequest(
        `Could not find a property named '${n}' on type '${NAMESPACE}.${index.def.typeName}'.`
      );
    }
    out.push(n);
  }
  return out;
}

export interface ExpandItem {
  nav: string;
  select?: string;
  filter?: string;
}

/** `$expand=Nav($select=a,b;$filter=…),Other`: one level only (§1.2). */
export function parseExpand(src: string): ExpandItem[] {
  const items: ExpandItem[] = [];
  let i = 0;
  while (i < src.length) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*/.exec(src.slice(i));
    if (!m) throw badRequest(`${INVALID} Syntax error in $expand.`);
    i += m[0].length;
    const item: ExpandItem = { nav: m[1]! };
    if (src[i] === '(') {
      let depth = 1;
      const start = ++i;
      while (i < src.length && depth > 0) {
        if (src[i] === '(') depth++;
        else if (src[i] === ')') depth--;
        i++;
      }
      if (depth !== 0) throw badRequest(`${INVALID} Unbalanced parentheses in $expand.`);
      for (const opt of src.slice(start, i - 1).split(';')) {
        const eq = opt.indexOf('=');
        const name = opt.slice(0, eq).trim();
        const value = opt.slice(eq + 1);
        if (name === '$select') item.select = value;
        else if (name === '$filter') item.filter = value;
        else if (name === '$expand') {
          throw badRequest(`${INVALID} Only first-level expansion is supported.`);
        } else
          throw badRequest(
            `${INVALID} The query option '${name}' is not supported inside $expand.`
          );
      }
    }
    items.push(item);
    const rest = /^\s*,?/.exec(src.slice(i))!;
    i += rest[0].length;
  }
  return items;
}
