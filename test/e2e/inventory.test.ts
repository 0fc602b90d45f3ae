import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './harness.ts';

/** The inventory endpoint as the package's D365InventoryController calls it, on a relay started as in production. */
let h: Harness;

beforeAll(async () => {
  // No cache: every lookup asks D365, so the second one meets the outage.
  h = await startHarness({ flows: [], env: { RELAY_INVENTORY_CACHE_MS: '0' } });
});

afterAll(async () => {
  await h?.close();
});

async function lookup(query: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${h.baseUrl()}/api/v1/inventory?${query}`, {
    headers: { 'X-Relay-Key': h.config.security.calloutKey }
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('inventory lookup end to end', () => {
  it('answers the stock set in D365, then the last values marked stale while D365 is down', async () => {
    h.d365.control.setStock({
      itemNumber: 'A0002',
      siteId: '1',
      warehouseId: '11',
      onHand: 40,
      reserved: 15,
      ordered: 5
    });
    const first = await lookup('items=A0002&legalEntity=usmf');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ legalEntity: 'usmf', stale: false });
    expect(first.body.items).toEqual([
      expect.objectContaining({
        itemNumber: 'A0002',
        sites: expect.arrayContaining([
          { siteId: '1', warehouseId: '11', available: 25, reserved: 15, ordered: 5 }
        ])
      })
    ]);

    h.d365.control.setFaults({ errorRate: 1, errorStatus: 503 });
    const stale = await lookup('items=A0002&legalEntity=usmf');
    expect(stale.status).toBe(200);
    expect(stale.body).toMatchObject({
      stale: true,
      asOf: first.body.asOf,
      items: first.body.items
    });
    h.d365.control.clearFaults();
  });

  it('accepts the query as the Apex controller encodes it (EncodingUtil.urlEncode: comma as %2C)', async () => {
    const { status, body } = await lookup('items=A0001%2CD0001&legalEntity=usmf');
    expect(status).toBe(200);
    expect((body.items as Array<{ itemNumber: string }>).map((i) => i.itemNumber)).toEqual([
      'A0001',
      'D0001'
    ]);
  });
});
