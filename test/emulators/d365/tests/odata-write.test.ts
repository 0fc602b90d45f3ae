import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, type D365Emulator } from '../index.ts';
import { dataClient, innerMessage, type DataClient } from './helpers.ts';

let emu: D365Emulator;
let api: DataClient;

beforeAll(async () => {
  emu = await start({ seed: 'demo' });
  api = await dataClient(emu);
});
afterAll(async () => {
  api.http.agent.destroy();
  await emu.close();
});

const WRITE_EXCEPTION =
  'Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException';

describe('POST', () => {
  it('creates a customer with 201, the full entity and an account from the number sequence', async () => {
    const r = await api.post('/data/CustomersV3', {
      OrganizationName: 'Northwind Traders',
      CustomerGroupId: '10',
      IdentificationNumber: '001Dn00000AbCdEFG1'
    });
    expect(r.status).toBe(201);
    const body = r.json();
    expect(body['@odata.context']).toBe(`${emu.url}/data/$metadata#CustomersV3/$entity`);
    expect(body.CustomerAccount).toMatch(/^US-\d{3}$/);
    expect(body).toMatchObject({
      dataAreaId: 'usmf',
      SalesCurrencyCode: 'USD',
      OnHoldStatus: 'No',
      PersonFirstName: ''
    });
    expect(r.headers.location).toBe(
      `${emu.url}/data/CustomersV3(dataAreaId='usmf',CustomerAccount='${body.CustomerAccount}')`
    );
  });

  it('skips sequence numbers already taken by manually numbered customers', async () => {
    const first = String(
      (
        await api.post('/data/CustomersV3', { OrganizationName: 'Seq A', CustomerGroupId: '10' })
      ).json().CustomerAccount
    );
    const manual = `US-${String(Number(first.slice(3)) + 1).padStart(3, '0')}`;
    expect(
      (
        await api.post('/data/CustomersV3', {
          CustomerAccount: manual,
          OrganizationName: 'Manual',
          CustomerGroupId: '10'
        })
      ).status
    ).toBe(201);
    const next = await api.post('/data/CustomersV3', {
      OrganizationName: 'Seq B',
      CustomerGroupId: '10'
    });
    expect(next.status).toBe(201);
    expect(next.json().CustomerAccount).toBe(
      `US-${String(Number(first.slice(3)) + 2).padStart(3, '0')}`
    );
  });

  it('creates in the company named by dataAreaId in the body', async () => {
    const r = await api.post('/data/CustomersV3', {
      dataAreaId: 'DEMF',
      OrganizationName: 'Adatum GmbH',
      CustomerGroupId: '20'
    });
    expect(r.json()).toMatchObject({ dataAreaId: 'demf', SalesCurrencyCode: 'EUR' });
  });

  it('fails a missing required field with 500 AxODataWriteException and an Infolog message', async () => {
    const r = await api.post('/data/CustomersV3', { OrganizationName: 'No Group Inc' });
    expect(r.status).toBe(500);
    expect((r.json().error as { innererror: { type: string } }).innererror.type).toBe(
      WRITE_EXCEPTION
    );
    expect(innerMessage(r)).toBe(
      "Write failed for table row of type 'CustCustomerV3Entity'. Infolog: Warning: Field 'Customer group' must be filled in."
    );
  });

  it('fails an organization name longer than 100 characters', async () => {
    const r = await api.post('/data/CustomersV3', {
      OrganizationName: 'x'.repeat(101),
      CustomerGroupId: '10'
    });
    expect(r.status).toBe(500);
    expect(innerMessage(r)).toMatch(/'Name' is too long\. The maximum length is 100/);
  });

  it('fails an unknown customer group with the related-table warning', async () => {
    const r = await api.post('/data/CustomersV3', {
      OrganizationName: 'Local Co',
      CustomerGroupId: 'Local'
    });
    expect(innerMessage(r)).toBe(
      "Write failed for table row of type 'CustCustomerV3Entity'. Infolog: Warning: The value 'Local' in field 'Customer group' is not found in the related table 'Customer groups'.; Warning: validateField failed on field 'CustCustomerV3Entity.CustomerGroupId'."
    );
  });

  it('fails a duplicate key with "The record already exists"', async () => {
    const r = await api.post('/data/CustomerGroups', {
      CustomerGroupId: '10',
      Description: 'again'
    });
    expect(r.status).toBe(500);
    expect(innerMessage(r)).toMatch(
      /Info: Cannot create a record in Customer groups \(CustGroup\)\. Customer group: 10\.\nThe record already exists\./
    );
  });

  it('fails an unknown dataAreaId', async () => {
    const r = await api.post('/data/CustomersV3', {
      dataAreaId: 'zz99',
      OrganizationName: 'Nowhere',
      CustomerGroupId: '10'
    });
    expect(r.status).toBe(500);
    expect(innerMessage(r)).toMatch(/Company 'zz99' does not exist/);
  });

  it('refuses a property the entity does not have with 400', async () => {
    const r = await api.post('/data/CustomersV3', {
      OrganizationName: 'A',
      CustomerGroupId: '10',
      Nickname: 'a'
    });
    expect(r.status).toBe(400);
    expect(innerMessage(r)).toMatch(
      /The property 'Nickname' does not exist on type 'Microsoft.Dynamics.DataEntities.CustomerV3'/
    );
  });

  it('creates a sales order with a number from the sequence and defaults from the customer', async () => {
    const r = await api.post('/data/SalesOrderHeadersV2', {
      OrderingCustomerAccountNumber: 'US-003',
      CustomersOrderReference: '006Dn00000XyZaBCD2'
    });
    expect(r.status).toBe(201);
    expect(r.json()).toMatchObject({
      SalesOrderNumber: expect.stringMatching(/^\d{6}$/),
      InvoiceCustomerAccountNumber: 'US-003',
      CurrencyCode: 'USD',
      SalesOrderStatus: 'Backorder',
      SalesOrderName: 'Forest Wholesales',
      CustomersOrderReference: '006Dn00000XyZaBCD2'
    });
  });

  it('prices a sales line from the customer-specific trade agreement', async () => {
    const order = (
      await api.post('/data/SalesOrderHeadersV2', { OrderingCustomerAccountNumber: 'US-003' })
    ).json();
    const line = await api.post('/data/SalesOrderLines', {
      SalesOrderNumber: order.SalesOrderNumber,
      ItemNumber: 'D0001',
      OrderedSalesQuantity: 2
    });
    expect(line.status).toBe(201);
    expect(line.json()).toMatchObject({
      SalesPrice: 250,
      LineAmount: 500,
      LineNumber: 1,
      SalesUnitSymbol: 'ea',
      InventoryLotId: expect.stringMatching(/^USMF-\d{6}$/)
    });
  });

  it('fails a sales line whose item number differs in case from the released product', async () => {
    const order = (
      await api.post('/data/SalesOrderHeadersV2', { OrderingCustomerAccountNumber: 'US-001' })
    ).json();
    const r = await api.post('/data/SalesOrderLines', {
      SalesOrderNumber: order.SalesOrderNumber,
      ItemNumber: 'd0001'
    });
    expect(r.status).toBe(500);
    expect(innerMessage(r)).toMatch(
      /The value 'd0001' in field 'Item number' is not found in the related table 'Items'/
    );
  });

  it('fails a sales line for an unknown item number', async () => {
    const order = (
      await api.post('/data/SalesOrderHeadersV2', { OrderingCustomerAccountNumber: 'US-001' })
    ).json();
    const r = await api.post('/data/SalesOrderLines', {
      SalesOrderNumber: order.SalesOrderNumber,
      ItemNumber: 'NOPE01'
    });
    expect(innerMessage(r)).toMatch(/'NOPE01' in field 'Item number' is not found/);
  });

  it('fails a sales line for a warehouse that does not exist', async () => {
    const order = (
      await api.post('/data/SalesOrderHeadersV2', { OrderingCustomerAccountNumber: 'US-001' })
    ).json();
    const r = await api.post('/data/SalesOrderLines', {
      SalesOrderNumber: order.SalesOrderNumber,
      ItemNumber: 'A0001',
      ShippingWarehouseId: '99'
    });
    expect(innerMessage(r)).toMatch(
      /'99' in field 'Warehouse' is not found in the related table 'Warehouses'/
    );
  });

  it('refuses writes to read-only entities such as posted invoices', async () => {
    expect((await api.post('/data/SalesInvoiceHeadersV2', { InvoiceNumber: 'X' })).status).toBe(
      405
    );
  });
});

describe('PATCH and DELETE', () => {
  it('updates with 204 and a new ETag', async () => {
    const path = "/data/CustomersV3(dataAreaId='usmf',CustomerAccount='US-004')";
    const before = (await api.get(path)).json()['@odata.etag'];
    const r = await api.patch(path, { CreditLimit: 12345 });
    expect(r.status).toBe(204);
    const after = (await api.get(path)).json();
    expect(after.CreditLimit).toBe(12345);
    expect(after['@odata.etag']).not.toBe(before);
  });

  it('refuses a stale If-Match with 412', async () => {
    const path = "/data/CustomersV3(dataAreaId='usmf',CustomerAccount='US-005')";
    const etag = String((await api.get(path)).json()['@odata.etag']);
    await api.patch(path, { CreditLimit: 1 });
    expect((await api.patch(path, { CreditLimit: 2 }, { 'if-match': etag })).status).toBe(412);
  });

  it('validates updates like creates', async () => {
    const r = await api.patch("/data/CustomersV3(dataAreaId='usmf',CustomerAccount='US-004')", {
      CustomerGroupId: 'BAD'
    });
    expect(r.status).toBe(500);
    expect(innerMessage(r)).toMatch(
      /^Update failed .* 'BAD' in field 'Customer group' is not found/
    );
  });

  it('answers 404 for a PATCH to a key that does not exist', async () => {
    expect(
      (
        await api.patch("/data/CustomersV3(dataAreaId='usmf',CustomerAccount='NOPE')", {
          CreditLimit: 1
        })
      ).status
    ).toBe(404);
  });

  it('deletes with 204', async () => {
    const created = (
      await api.post('/data/CustomerGroups', { CustomerGroupId: 'TMP', Description: 'Temporary' })
    ).json();
    const path = `/data/CustomerGroups(dataAreaId='usmf',CustomerGroupId='${created.CustomerGroupId}')`;
    expect((await api.del(path)).status).toBe(204);
    expect((await api.get(path)).status).toBe(404);
  });

  it('refuses to delete a customer that has transactions', async () => {
    const r = await api.del("/data/CustomersV3(dataAreaId='usmf',CustomerAccount='US-001')");
    expect(r.status).toBe(500);
    expect(innerMessage(r)).toMatch(/Transactions exist in table 'Customer transactions'/);
  });
});
