import { describe, expect, it } from 'vitest';
import { IdFactory, normalizeId, to18 } from '../ids.ts';

describe('record IDs', () => {
  it('adds the documented checksum suffix to a 15-character ID', () => {
    expect(to18('0019000000B98de')).toBe('0019000000B98deAAB');
    expect(to18('00Dxx0000001gPL')).toBe('00Dxx0000001gPLEAY');
    expect(to18('005xx000001SwiU')).toBe('005xx000001SwiUAAS');
  });

  it('accepts 15-character IDs and 18-character IDs in any letter case', () => {
    expect(normalizeId('0019000000B98de')).toBe('0019000000B98deAAB');
    expect(normalizeId('0019000000b98DEaab')).toBe('0019000000B98deAAB');
  });

  it('rejects values that are not IDs or whose checksum does not match', () => {
    expect(normalizeId('abc')).toBeNull();
    expect(normalizeId('0019000000B98deAAC')).toBeNull();
    expect(normalizeId('0019000000B98de!!!')).toBeNull();
  });

  it('mints unique valid 18-character IDs with the key prefix', () => {
    const ids = new IdFactory();
    const a = ids.next('001');
    const b = ids.next('001');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^001[0-9A-Za-z]{15}$/);
    expect(normalizeId(a)).toBe(a);
  });
});
