import { describe, expect, it } from 'vitest';
import {
  entityKey,
  entityPath,
  enumValue,
  filter,
  odataLiteral,
  queryString
} from '../../src/d365/odata.ts';

describe('odataLiteral', () => {
  it('doubles single quotes inside string literals', () => {
    expect(odataLiteral("O'Brien's")).toBe("'O''Brien''s'");
  });

  it('writes dates as unquoted DateTimeOffset literals', () => {
    expect(odataLiteral(new Date('2024-05-01T12:00:00Z'))).toBe('2024-05-01T12:00:00Z');
  });

  it('writes enums in the Microsoft.Dynamics.DataEntities namespace', () => {
    expect(odataLiteral(enumValue('NoYes', 'Yes'))).toBe(
      "Microsoft.Dynamics.DataEntities.NoYes'Yes'"
    );
  });
});

describe('entityKey', () => {
  it('names every key property, dataAreaId included', () => {
    expect(entityPath('CustomersV3', { dataAreaId: 'usmf', CustomerAccount: 'US-001' })).toBe(
      "CustomersV3(dataAreaId='usmf',CustomerAccount='US-001')"
    );
  });

  it('keeps an injected quote inside the literal', () => {
    const key = entityKey({ dataAreaId: 'usmf', CustomerAccount: "X',dataAreaId='usrt" });
    expect(decodeURIComponent(key)).toBe(
      "(dataAreaId='usmf',CustomerAccount='X'',dataAreaId=''usrt')"
    );
  });

  it('percent-encodes characters that would end the path segment', () => {
    expect(entityKey({ ItemNumber: 'A/B?#%' })).toBe("(ItemNumber='A%2FB%3F%23%25')");
  });

  it('refuses property names that are not identifiers', () => {
    expect(() => entityKey({ 'a)': 'x' })).toThrow(TypeError);
  });
});

describe('filter', () => {
  it('combines conditions with parentheses', () => {
    const f = filter.and(
      filter.eq('dataAreaId', 'usmf'),
      filter.or(filter.gt('CreditLimit', 100), filter.eq('Blocked', null))
    );
    expect(f.text).toBe("(dataAreaId eq 'usmf') and ((CreditLimit gt 100) or (Blocked eq null))");
  });

  it('expands anyOf to an or chain because D365 does not support in', () => {
    expect(filter.anyOf('ItemNumber', ['A', "B'C"]).text).toBe(
      "(ItemNumber eq 'A') or (ItemNumber eq 'B''C')"
    );
  });

  it('writes contains as the D365 wildcard form', () => {
    expect(filter.contains('OrganizationName', "Bob's").text).toBe(
      "OrganizationName eq '*Bob''s*'"
    );
  });

  it('refuses an exact match on a value containing the D365 wildcard', () => {
    expect(() => filter.eq('CustomerAccount', 'US*')).toThrow(/wildcard/);
  });

  it('refuses range comparisons on enums', () => {
    expect(() => filter.gt('Blocked', enumValue('NoYes', 'Yes'))).toThrow(/eq and ne/);
  });
});

describe('queryString', () => {
  it('encodes the filter and adds cross-company', () => {
    const qs = queryString({
      filter: filter.eq('Name', 'a&b'),
      select: ['Name'],
      top: 5,
      crossCompany: true
    });
    expect(qs).toBe(
      `$filter=${encodeURIComponent("Name eq 'a&b'")}&$select=Name&$top=5&cross-company=true`
    );
  });

  it('refuses an orderby term with extra words', () => {
    expect(() => queryString({ orderBy: ['Name desc; drop'] })).toThrow(TypeError);
  });
});
