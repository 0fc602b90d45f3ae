import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { D365Client } from '../../src/d365/index.ts';
import { startD365 } from './helpers.ts';
import type { D365Fixture } from './helpers.ts';

let fx: D365Fixture;
let d365: D365Client;

beforeAll(async () => {
  fx = await startD365();
  d365 = fx.client();
});

afterAll(async () => {
  await fx.close();
});

describe('D365 DMF package import', () => {
  it('imports every record of a valid package', async () => {
    const result = await d365.importPackage({
      definitionGroupId: 'Relay customer groups',
      entityName: 'Customer groups',
      targetEntity: 'CustCustomerGroupEntity',
      legalEntityId: 'usmf',
      records: [
        { CustomerGroupId: 'D1', Description: 'Imported <one> & "two"' },
        { CustomerGroupId: 'D2', Description: 'Imported two' }
      ]
    });
    expect(result).toMatchObject({ status: 'Succeeded', errors: [], errorKeys: [] });
    expect(
      await d365.get('CustomerGroups', { dataAreaId: 'usmf', CustomerGroupId: 'D1' })
    ).toMatchObject({ Description: 'Imported <one> & "two"' });
  });

  it('reports partial success with per-record errors and the failed keys', async () => {
    const result = await d365.importPackage({
      definitionGroupId: 'Relay customers',
      entityName: 'Customers V3',
      targetEntity: 'CustCustomerV3Entity',
      legalEntityId: 'usmf',
      records: [
        { CustomerAccount: 'DMF-OK', OrganizationName: 'Good customer', CustomerGroupId: '10' },
        { CustomerAccount: 'DMF-BAD', OrganizationName: 'Bad customer', CustomerGroupId: 'NOPE' }
      ]
    });
    expect(result.status).toBe('PartiallySucceeded');
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatch(/NOPE|Customer group/);
    expect(result.errorKeys).toEqual(['DMF-BAD']);
    expect(
      await d365.get('CustomersV3', { dataAreaId: 'usmf', CustomerAccount: 'DMF-OK' })
    ).not.toBeNull();
    expect(
      await d365.get('CustomersV3', { dataAreaId: 'usmf', CustomerAccount: 'DMF-BAD' })
    ).toBeNull();
  });

  it('polls with backoff while the execution runs', async () => {
    fx.emulator.control.setFaults({ dmfDelayMs: 1_500 });
    try {
      const result = await d365.importPackage({
        definitionGroupId: 'Relay slow',
        entityName: 'Customer groups',
        targetEntity: 'CustCustomerGroupEntity',
        legalEntityId: 'usmf',
        records: [{ CustomerGroupId: 'D3', Description: 'Slow' }]
      });
      expect(result.status).toBe('Succeeded');
    } finally {
      fx.emulator.control.clearFaults();
    }
  });
});

describe('D365 DMF package export', () => {
  it('exports a data project and reads the records from the package', async () => {
    fx.emulator.control.defineDataProject({
      definitionGroupId: 'Relay export groups',
      entitySet: 'CustomerGroups'
    });
    const result = await d365.exportPackage({
      definitionGroupId: 'Relay export groups',
      packageName: 'groups',
      legalEntityId: 'usmf'
    });
    expect(result.status).toBe('Succeeded');
    const ids = result.entities[0]?.records.map((row) => row.CUSTOMERGROUPID);
    expect(ids).toContain('10');
    expect(ids?.length).toBe(
      fx.emulator.control.read('CustomerGroups', { legalEntity: 'usmf' }).length
    );
  });
});
