import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { filter } from '../../src/d365/index.ts';
import type { D365Client } from '../../src/d365/index.ts';
import type { ClientObserver } from '../../src/net/observer.ts';
import { startD365 } from './helpers.ts';
import type { D365Fixture } from './helpers.ts';

let fx: D365Fixture;
let d365: D365Client;

beforeAll(async () => {
  fx = await startD365({ pageSize: 3 });
  d365 = fx.client();
});

afterAll(async () => {
  await fx.close();
});

beforeEach(() => {
  fx.emulator.control.clearFaults();
  fx.emulator.control.setThrottling({});
});

const group = (id: string): Record<string, string> => ({ dataAreaId: 'usmf', CustomerGroupId: id });

describe('D365 auth', () => {
  it('acquires a client-credentials token through MSAL and reuses it', async () => {
    const client = fx.client();
    const before = fx.emulator.control.counters().tokensIssued;
    await client.checkCredentials();
    await client.get('CustomerGroups', group('10'));
    expect(fx.emulator.control.counters().tokensIssued - before).toBe(1);
  });

  it('renews the token before it expires, so no request is answered 401', async () => {
    const short = await startD365({ tokenLifetimeSeconds: 4 });
    try {
      const client = short.client({ tokenRenewBeforeMs: 2_500 });
      await client.get('CustomerGroups', group('10'));
      // MSAL rounds expiresOn to whole seconds, so wait well past the renewal point.
      await new Promise((resolve) => setTimeout(resolve, 2_200));
      await client.get('CustomerGroups', group('10'));
      const counters = short.emulator.control.counters();
      expect(counters.tokensIssued).toBe(2);
      expect(counters.unauthorized).toBe(0);
    } finally {
      await short.close();
    }
  });

  it('reports a wrong client secret as a non-retryable auth error', async () => {
    const client = fx.client({ clientSecret: 'wrong' });
    await expect(client.checkCredentials()).rejects.toMatchObject({
      system: 'd365',
      kind: 'auth',
      retryable: false
    });
  });
});

describe('D365 OData CRUD', () => {
  it('creates, reads, updates and deletes by named key with dataAreaId', async () => {
    const created = await d365.create<Record<string, unknown>>('CustomerGroups', {
      ...group("Q'1"),
      Description: "O'Brien's group"
    });
    expect(created).toMatchObject({
      CustomerGroupId: "Q'1",
      dataAreaId: 'usmf',
      Description: "O'Brien's group"
    });
    await d365.update('CustomerGroups', group("Q'1"), { Description: 'Renamed' });
    expect(
      await d365.get('CustomerGroups', group("Q'1"), { select: ['Description'] })
    ).toMatchObject({ Description: 'Renamed' });
    await d365.delete('CustomerGroups', group("Q'1"));
    expect(await d365.get('CustomerGroups', group("Q'1"))).toBeNull();
  });

  it('keeps a quote-laden key value from selecting another record', async () => {
    const existing = await d365.get('CustomerGroups', group('10'));
    expect(existing).not.toBeNull();
    expect(
      await d365.get('CustomerGroups', {
        dataAreaId: 'usmf',
        CustomerGroupId: "10',dataAreaId='usmf"
      })
    ).toBeNull();
  });

  it('extracts the Infolog message from a validation failure and does not retry it', async () => {
    const before = fx.emulator.control.counters().requests.CustomersV3?.POST ?? 0;
    const error = await d365
      .create('CustomersV3', {
        dataAreaId: 'usmf',
        OrganizationName: 'Bad group',
        CustomerGroupId: 'NOPE'
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'validation', retryable: false, status: 500 });
    expect((error as Error).message).toMatch(/not found in the related table/);
    expect(fx.emulator.control.counters().requests.CustomersV3?.POST).toBe(before + 1);
  });

  it('maps a duplicate key to conflict', async () => {
    await expect(
      d365.create('CustomerGroups', { ...group('10'), Description: 'dup' })
    ).rejects.toMatchObject({ kind: 'conflict', retryable: false });
  });
});

describe('D365 OData queries', () => {
  it('follows @odata.nextLink through every page', async () => {
    const expected = fx.emulator.control.read('CustomerGroups', { legalEntity: 'usmf' }).length;
    const before = fx.emulator.control.counters().requests.CustomerGroups?.GET ?? 0;
    const ids: string[] = [];
    for await (const row of d365.query<{ CustomerGroupId: string }>('CustomerGroups', {
      select: ['CustomerGroupId']
    }))
      ids.push(row.CustomerGroupId);
    expect(ids).toHaveLength(expected);
    expect(new Set(ids).size).toBe(expected);
    expect((fx.emulator.control.counters().requests.CustomerGroups?.GET ?? 0) - before).toBe(
      Math.ceil(expected / 3)
    );
  });

  it('reads only the default company unless cross-company is set', async () => {
    const companies = async (crossCompany: boolean): Promise<Set<string>> => {
      const seen = new Set<string>();
      for await (const row of d365.query<{ dataAreaId: string }>('CustomersV3', {
        select: ['dataAreaId'],
        crossCompany
      }))
        seen.add(row.dataAreaId);
      return seen;
    };
    expect([...(await companies(false))]).toEqual(['usmf']);
    expect((await companies(true)).size).toBeGreaterThan(1);
  });

  it('filters with a built expression containing a quote', async () => {
    await d365.create('CustomerGroups', { ...group('QF'), Description: "Joe's" });
    const rows: unknown[] = [];
    for await (const row of d365.query('CustomerGroups', {
      filter: filter.eq('Description', "Joe's")
    }))
      rows.push(row);
    expect(rows).toHaveLength(1);
    await d365.delete('CustomerGroups', group('QF'));
  });
});

describe('D365 $batch', () => {
  it('commits a changeset of two creates together', async () => {
    const [result] = await d365.batch([
      [
        {
          method: 'POST',
          path: 'CustomerGroups',
          body: { ...group('B1'), Description: 'Batch 1' }
        },
        { method: 'POST', path: 'CustomerGroups', body: { ...group('B2'), Description: 'Batch 2' } }
      ]
    ]);
    expect(result).toMatchObject({ kind: 'changeset', ok: true });
    expect(await d365.get('CustomerGroups', group('B2'))).not.toBeNull();
  });

  it('rolls back the whole changeset when one operation fails', async () => {
    const [result, read] = await d365.batch([
      [
        {
          method: 'POST',
          path: 'CustomerGroups',
          body: { ...group('B3'), Description: 'Would be fine' }
        },
        {
          method: 'POST',
          path: 'CustomerGroups',
          body: { ...group('10'), Description: 'Duplicate' }
        }
      ],
      { method: 'GET', path: "CustomerGroups(dataAreaId='usmf',CustomerGroupId='10')" }
    ]);
    expect(result).toMatchObject({ kind: 'changeset', ok: false });
    if (result?.kind !== 'changeset') throw new Error('expected a changeset result');
    expect(result.responses.some((r) => r.error?.kind === 'conflict')).toBe(true);
    expect(read).toMatchObject({ kind: 'operation', response: { status: 200 } });
    expect(await d365.get('CustomerGroups', group('B3'))).toBeNull();
  });
});

describe('D365 throttling and transient failures', () => {
  it('waits the Retry-After of a 429 and then succeeds', async () => {
    const throttled: Array<number | undefined> = [];
    const observer: ClientObserver = { throttled: (e) => throttled.push(e.retryAfterMs) };
    const client = fx.client({ observer });
    await client.checkCredentials();
    fx.emulator.control.queueFaults([{ kind: 'status', status: 429, retryAfter: 1 }]);
    const started = performance.now();
    expect(await client.get('CustomerGroups', group('10'))).not.toBeNull();
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
    expect(throttled).toEqual([1_000]);
  });

  it('retries 503s and dropped connections on reads', async () => {
    fx.emulator.control.queueFaults([{ kind: 'status', status: 503 }, { kind: 'drop' }]);
    expect(await d365.get('CustomerGroups', group('10'))).not.toBeNull();
  });

  it('does not blindly repeat a create after a 503, since it may have been written', async () => {
    const before = fx.emulator.control.counters().injectedErrors;
    fx.emulator.control.queueFaults([{ kind: 'status', status: 503 }]);
    await expect(
      d365.create('CustomerGroups', { ...group('R1'), Description: 'x' })
    ).rejects.toMatchObject({ kind: 'transient', retryable: true });
    expect(fx.emulator.control.counters().injectedErrors - before).toBe(1);
    expect(await d365.get('CustomerGroups', group('R1'))).toBeNull();
  });

  it('bounds every request with the hard timeout', async () => {
    const client = fx.client({ requestTimeoutMs: 200, maxAttempts: 1 });
    await client.checkCredentials();
    fx.emulator.control.setFaults({ latency: { minMs: 600, maxMs: 600 } });
    await expect(client.get('CustomerGroups', group('10'))).rejects.toMatchObject({
      kind: 'transient',
      retryable: true
    });
  });
});
