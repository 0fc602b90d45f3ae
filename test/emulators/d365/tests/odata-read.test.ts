import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, type D365Emulator } from '../index.ts';
import { dataClient, innerMessage, type DataClient } from './helpers.ts';

let emu: D365Emulator;
let api: DataClient;
type Rows = Array<Record<string, unknown>>;
const values = async (path: string): Promise<Rows> => (await api.get(path)).json().value as Rows;

beforeAll(async () => {
  emu = await start({ seed: 'demo', pageSize: 3 });
  api = await dataClient(emu);
});
afterAll(async () => {
  api.http.agent.destroy();
  await emu.close();
});

describe('addressing and keys', () => {
  it('reads one entity by its named composite key with @odata.context $entity and an ETag', async () => {
    const r = await api.get("/data/CustomersV3(dataAreaId='usmf',CustomerAccount='US-001')");
    expect(r.status).toBe(200);
    const body = r.json();
    expect(body['@odata.context']).toBe(`${emu.url}/data/$metadata#CustomersV3/$entity`);
    expect(body['@odata.etag']).toMatch(/^W\/"[A-Za-z0-9+/=]+"$/);
    expect(body.OrganizationName).toBe('Contoso Retail San Diego');
  });

  it('matches key values case-insensitively and returns dataAreaId in lower case', async () => {
    const body = (
      await api.get("/data/CustomersV3(dataAreaId='USMF',CustomerAccount='us-001')")
    ).json();
    expect(body).toMatchObject({ dataAreaId: 'usmf', CustomerAccount: 'US-001' });
  });

  it('refuses a key that leaves out dataAreaId', async () => {
    const r = await api.get("/data/CustomersV3(CustomerAccount='US-001')");
    expect(r.status).toBe(400);
    expect(innerMessage(r)).toMatch(/number of keys specified in the URI does not match/);
  });

  it('treats entity set names as case-sensitive', async () => {
    expect((await api.get('/data/customersv3')).status).toBe(404);
    expect((await api.get('/data/CustomerV3')).status).toBe(404);
  });

  it('serves a single property by its own address', async () => {
    const r = await api.get(
      "/data/CustomerGroups(dataAreaId='usmf',CustomerGroupId='10')/Description"
    );
    expect(r.json().value).toBe('Wholesales customers');
  });
});

describe('companies', () => {
  it("returns only the default company's rows without cross-company", async () => {
    const rows = await values('/data/CustomersV3?$select=dataAreaId&$top=100');
    expect(new Set(rows.map((r) => r.dataAreaId))).toEqual(new Set(['usmf']));
  });

  it('returns every company with cross-company=true', async () => {
    const body = (await api.get('/data/CustomersV3?cross-company=true&$count=true&$top=1')).json();
    expect(body['@odata.count']).toBe(10);
  });

  it('switches the default company with ?company=', async () => {
    const rows = await values('/data/CustomersV3?company=demf&$select=dataAreaId,CustomerAccount');
    expect(rows.map((r) => r.CustomerAccount)).toEqual(['DE-001', 'DE-002']);
  });

  it('hides a keyed row of another company unless cross-company=true', async () => {
    const path = "/data/CustomersV3(dataAreaId='demf',CustomerAccount='DE-001')";
    expect((await api.get(path)).status).toBe(404);
    expect((await api.get(`${path}?cross-company=true`)).status).toBe(200);
  });
});

describe('$filter', () => {
  it('implements contains as * wildcards inside eq', async () => {
    const rows = await values(
      "/data/CustomersV3?$filter=OrganizationName eq '*retail*'&$select=CustomerAccount"
    );
    expect(rows.map((r) => r.CustomerAccount)).toEqual(['US-001', 'US-002', 'US-005']);
  });

  it('accepts enum literals in the Microsoft.Dynamics.DataEntities namespace', async () => {
    const rows = await values(
      "/data/CustomersV3?$filter=OnHoldStatus eq Microsoft.Dynamics.DataEntities.CustVendorBlocked'Invoice'&$select=CustomerAccount"
    );
    expect(rows.map((r) => r.CustomerAccount)).toEqual(['US-007']);
  });

  it('refuses comparisons other than eq and ne on enums', async () => {
    const r = await api.get(
      "/data/CustomersV3?$filter=OnHoldStatus gt Microsoft.Dynamics.DataEntities.CustVendorBlocked'No'"
    );
    expect(r.status).toBe(400);
  });

  it("refuses the unsupported 'in' operator", async () => {
    const r = await api.get("/data/CustomersV3?$filter=CustomerGroupId in ('10','20')");
    expect(r.status).toBe(400);
    expect(innerMessage(r)).toMatch(/'in' is not supported/);
  });

  it('refuses filter functions such as contains()', async () => {
    expect(
      (await api.get("/data/CustomersV3?$filter=contains(OrganizationName,'Retail')")).status
    ).toBe(400);
  });

  it('combines and, or, not and parentheses', async () => {
    const rows = await values(
      "/data/CustomersV3?$filter=(CustomerGroupId eq '10' or CustomerGroupId eq '20') and not (CreditLimit lt 80000)&$select=CustomerAccount"
    );
    expect(rows.map((r) => r.CustomerAccount)).toEqual(['US-003', 'US-006']);
  });

  it("answers an or-chain of equalities (the spelling of 'in') with each matching row once", async () => {
    const rows = await values(
      "/data/WarehousesOnHandV2?$filter=(ItemNumber eq 'A0001' or ItemNumber eq 'D0004' or ItemNumber eq 'A0001') and InventoryWarehouseId eq '11'&$select=ItemNumber"
    );
    expect(rows.map((r) => r.ItemNumber).sort()).toEqual(['A0001', 'D0004']);
  });

  it('compares date fields with unquoted DateTimeOffset literals', async () => {
    const rows = await values(
      '/data/SalesInvoiceHeadersV2?$filter=InvoiceDate gt 2000-01-01T12:00:00Z&$select=InvoiceNumber&$top=10'
    );
    expect(rows.length).toBe(3);
  });

  it('names an unknown property in the error', async () => {
    const r = await api.get("/data/CustomersV3?$filter=Nope eq 'x'");
    expect(r.status).toBe(400);
    expect(innerMessage(r)).toMatch(/Could not find a property named 'Nope'/);
  });
});

describe('query options', () => {
  it('lists $select fields in @odata.context and returns only them plus the ETag', async () => {
    const body = (await api.get('/data/CustomerGroups?$select=CustomerGroupId&$top=1')).json();
    expect(body['@odata.context']).toBe(
      `${emu.url}/data/$metadata#CustomerGroups(CustomerGroupId)`
    );
    expect(Object.keys((body.value as Rows)[0]!)).toEqual(['@odata.etag', 'CustomerGroupId']);
  });

  it('expands one level with a nested $select', async () => {
    const body = (
      await api.get(
        '/data/SalesOrderHeadersV2?$top=1&$select=SalesOrderNumber&$expand=SalesOrderLines($select=ItemNumber)'
      )
    ).json();
    expect(body['@odata.context']).toBe(
      `${emu.url}/data/$metadata#SalesOrderHeadersV2(SalesOrderNumber,SalesOrderLines,SalesOrderLines(ItemNumber))`
    );
    expect((body.value as Rows)[0]!.SalesOrderLines).toEqual([
      expect.objectContaining({ ItemNumber: 'D0001' }),
      expect.objectContaining({ ItemNumber: 'A0001' })
    ]);
  });

  it('accepts the expanded navigation in $select', async () => {
    const r = await api.get(
      '/data/SalesOrderHeadersV2?$top=1&$select=SalesOrderNumber,SalesOrderLines&$expand=SalesOrderLines($select=ItemNumber)'
    );
    expect(r.status).toBe(200);
    expect((r.json().value as Rows)[0]!.SalesOrderLines).toHaveLength(2);
  });

  it('refuses a second level of $expand', async () => {
    expect(
      (
        await api.get(
          '/data/SalesOrderHeadersV2?$expand=SalesOrderLines($expand=SalesOrderHeaderV2)'
        )
      ).status
    ).toBe(400);
  });

  it('orders with $orderby desc', async () => {
    const rows = await values(
      '/data/ReleasedProductsV2?$orderby=SalesPrice desc&$top=2&$select=ItemNumber'
    );
    expect(rows.map((r) => r.ItemNumber)).toEqual(['D0004', 'M0001']);
  });

  it('reports the total in @odata.count regardless of $top', async () => {
    const body = (await api.get('/data/ReleasedProductsV2?$count=true&$top=1')).json();
    expect(body['@odata.count']).toBe(10);
    expect(body.value).toHaveLength(1);
  });

  it('serves /$count as a plain number', async () => {
    const r = await api.get('/data/ReleasedProductsV2/$count');
    expect(r.body).toBe('10');
  });

  it('refuses unsupported query options such as $search', async () => {
    expect((await api.get('/data/CustomersV3?$search=Contoso')).status).toBe(400);
  });
});

describe('server-driven paging', () => {
  it('returns pageSize rows and an absolute @odata.nextLink that reaches the remaining rows', async () => {
    const first = (await api.get('/data/ReleasedProductsV2?$select=ItemNumber')).json();
    expect(first.value).toHaveLength(3);
    const seen = (first.value as Rows).map((r) => r.ItemNumber);
    let next = first['@odata.nextLink'] as string | undefined;
    expect(next).toMatch(new RegExp(`^${emu.url}/data/ReleasedProductsV2\\?`));
    while (next) {
      const page = (await api.get(next)).json();
      seen.push(...(page.value as Rows).map((r) => r.ItemNumber));
      next = page['@odata.nextLink'] as string | undefined;
    }
    expect(new Set(seen).size).toBe(10);
  });

  it('gives no nextLink when $top fits in one page', async () => {
    const body = (await api.get('/data/ReleasedProductsV2?$top=2')).json();
    expect(body['@odata.nextLink']).toBeUndefined();
  });
});

describe('payload conventions', () => {
  it('includes every property, empty strings for blanks and 1900-01-01T12:00:00Z for empty dates', async () => {
    const line = (
      await values(
        "/data/CustTransactions?$filter=TransType eq Microsoft.Dynamics.DataEntities.LedgerTransType'Sales' and Closed eq 1900-01-01T12:00:00Z"
      )
    )[0]!;
    expect(line.Closed).toBe('1900-01-01T12:00:00Z');
    const customer = (
      await api.get("/data/CustomersV3(dataAreaId='usmf',CustomerAccount='US-001')")
    ).json();
    expect(customer.KnownAs).toBe('');
    expect(Object.keys(customer)).toContain('TaxExemptNumber');
  });

  it('writes enums as symbol strings and decimals as numbers', async () => {
    const p = (
      await api.get("/data/ReleasedProductsV2(dataAreaId='usmf',ItemNumber='D0001')")
    ).json();
    expect(p.ProductType).toBe('Item');
    expect(p.SalesPrice).toBe(280);
  });

  it('serves $metadata generated from the entity definitions', async () => {
    const r = await api.get('/data/$metadata');
    expect(r.headers['content-type']).toMatch(/application\/xml/);
    expect(r.body).toContain(
      '<EntitySet Name="CustomersV3" EntityType="Microsoft.Dynamics.DataEntities.CustomerV3">'
    );
    expect(r.body).toContain('<EnumType Name="NoYes">');
  });
});
