import pino, { type Logger } from 'pino';
import type { RelayClients } from '../src/clients.ts';

export const silentLogger: Logger = pino({ level: 'silent' });

/** Stands in for both system clients at the `/readyz` boundary: only the credential check. */
export function fakeClients(
  state: { d365Ok?: boolean; salesforceOk?: boolean } = {}
): RelayClients {
  const check = (ok: boolean | undefined, system: string) => async () => {
    if (ok === false) throw new Error(`${system} rejected the credentials`);
  };
  return {
    d365: { checkCredentials: check(state.d365Ok, 'D365') },
    salesforce: { checkCredentials: check(state.salesforceOk, 'Salesforce') }
  };
}

export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
  what = 'condition'
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
