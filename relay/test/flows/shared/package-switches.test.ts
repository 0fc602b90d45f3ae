import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { packageSwitches } from '../../../src/flows/shared/package-switches.ts';
import type { Flow } from '../../../src/flows/types.ts';
import type { SalesforceClient } from '../../../src/salesforce/index.ts';
import { startSalesforce, type SalesforceFixture } from '../../salesforce/helpers.ts';

const products: Flow = {
  name: 'products',
  packageSwitch: 'Product_Sync_Enabled__c',
  handle: async () => undefined
};
const invoice: Flow = {
  name: 'invoice',
  packageSwitch: 'Invoice_Sync_Enabled__c',
  handle: async () => undefined
};
const unswitched: Flow = { name: 'accounts', handle: async () => undefined };
const FLOWS = [products, invoice, unswitched];

let fx: SalesforceFixture;
let sf: SalesforceClient;
let clock = 0;

beforeAll(async () => {
  fx = await startSalesforce();
  sf = fx.credentialsClient();
  await sf.checkCredentials();
});

afterAll(async () => {
  await fx.close();
});

beforeEach(() => {
  // Reloads the package's custom metadata as deployed: every switch on.
  fx.emulator.control.resetData();
  fx.emulator.control.clearFaults();
  fx.emulator.control.resetCounters();
  clock = 0;
});

const gate = () =>
  packageSwitches({ salesforce: sf, flows: FLOWS, cacheMs: 60_000, now: () => clock });
const switchOff = (field: string) =>
  fx.emulator.control.setMetadataValues('D365_Integration_Setting__mdt', 'Default', {
    [field]: false
  });

describe('package switches (D365_Integration_Setting__mdt Default)', () => {
  it('lets every flow run with the record as deployed', async () => {
    const switches = gate();
    expect(await switches.closedReason(products)).toBeUndefined();
    expect(await switches.closedReason(invoice)).toBeUndefined();
  });

  it('closes the flow whose switch an admin unticked, naming the switch', async () => {
    switchOff('Invoice_Sync_Enabled__c');
    const switches = gate();
    expect(await switches.closedReason(invoice)).toBe(
      'switched off in Salesforce (D365_Integration_Setting__mdt.Default.Invoice_Sync_Enabled__c)'
    );
    expect(await switches.closedReason(products)).toBeUndefined();
  });

  it('reads the record once per cache period, and never for a flow without a switch', async () => {
    const switches = gate();
    await switches.closedReason(unswitched);
    expect(fx.emulator.control.counters().query).toBe(0);
    await Promise.all([switches.closedReason(products), switches.closedReason(invoice)]);
    switchOff('Product_Sync_Enabled__c');
    expect(await switches.closedReason(products)).toBeUndefined();
    expect(fx.emulator.control.counters().query).toBe(1);
    clock += 60_000;
    expect(await switches.closedReason(products)).toMatch(/Product_Sync_Enabled__c/);
    expect(fx.emulator.control.counters().query).toBe(2);
  });

  it('fails when the record cannot be read, and reads again on the next job', async () => {
    const switches = gate();
    fx.emulator.control.setFaults({ requestLimitExceeded: true });
    await expect(switches.closedReason(products)).rejects.toMatchObject({
      kind: 'throttled',
      retryable: true
    });
    fx.emulator.control.clearFaults();
    switchOff('Product_Sync_Enabled__c');
    expect(await switches.closedReason(products)).toMatch(/Product_Sync_Enabled__c/);
  });
});
