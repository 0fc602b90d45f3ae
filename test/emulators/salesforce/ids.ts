/**
 * Salesforce record IDs: 15-character case-sensitive IDs plus the 3-character checksum suffix that
 * makes the 18-character case-insensitive form (salesforce.md §9.1).
 */

const CHECKSUM_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const ID_SHAPE = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-5]{3})?$/;

export function to18(id15: string): string {
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) {
      const code = id15.charCodeAt(chunk * 5 + i);
      if (code >= 65 && code <= 90) bits |= 1 << i;
    }
    suffix += CHECKSUM_ALPHABET[bits];
  }
  return id15 + suffix;
}

/**
 * Canonical 18-character form of a 15- or 18-character ID, or null when the value is not an ID.
 * 18-character IDs are case-insensitive: the suffix tells which letters of the first 15 are upper case.
 */
export function normalizeId(value: string): string | null {
  if (!ID_SHAPE.test(value)) return null;
  if (value.length === 15) return to18(value);
  const suffix = value.slice(15).toUpperCase();
  let id15 = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    const bits = CHECKSUM_ALPHABET.indexOf(suffix[chunk] as string);
    for (let i = 0; i < 5; i++) {
      const ch = value[chunk * 5 + i] as string;
      id15 += bits & (1 << i) ? ch.toUpperCase() : ch.toLowerCase();
    }
  }
  const canonical = to18(id15);
  return canonical === id15 + suffix ? canonical : null;
}

/** Mints unique, syntactically valid IDs per key prefix: prefix + 2-char pod + 10-char counter. */
export class IdFactory {
  private readonly counters = new Map<string, number>();
  private readonly pod: string;

  constructor(pod = '5E') {
    this.pod = pod;
  }

  next(keyPrefix: string): string {
    const n = (this.counters.get(keyPrefix) ?? 0) + 1;
    this.counters.set(keyPrefix, n);
    return to18(keyPrefix + this.pod + base62(n, 10));
  }
}

export function base62(n: number, width: number): string {
  let out = '';
  let rest = n;
  while (rest > 0) {
    out = BASE62[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  return out.padStart(width, '0');
}

/** Key prefixes in a stable order: a00, a01 … a0z, a10 … (custom objects), e00 … (events). */
export function keyPrefixAt(letter: string, index: number): string {
  return letter + base62(index, 2);
}
