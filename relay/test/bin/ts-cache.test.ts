import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const url = (path: string) => pathToFileURL(join(ROOT, path)).href;

/** Runs an ES module snippet in a fresh Node process that loads the sources as the bin does. */
function runThroughCache(body: string): string {
  const script = `
    const { loadSourcesThroughCache } = await import(${JSON.stringify(url('relay/bin/ts-cache.js'))});
    loadSourcesThroughCache();
    ${body}`;
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8'
  });
}

describe('stripped-source cache (relay/bin/ts-cache.js)', () => {
  beforeAll(() => {
    // What the Dockerfile does at build time.
    execFileSync(process.execPath, [join(ROOT, 'relay/bin/ts-cache.js')], { cwd: ROOT });
  });

  it('loads the relay from a warm cache without loading Node’s type stripper', () => {
    const out = runThroughCache(`
      const { main } = await import(${JSON.stringify(url('relay/src/cli.ts'))});
      const stripper = process.moduleLoadList.some((m) => m.includes('amaro'));
      console.log(JSON.stringify({ main: typeof main, stripper }));`);
    expect(JSON.parse(out)).toEqual({ main: 'function', stripper: false });
  });

  it('keeps stack trace positions at the .ts source lines', () => {
    const source = readFileSync(join(ROOT, 'relay/src/store/index.ts'), 'utf8').split('\n');
    const line = source.findIndex((l) => l.includes('Unsupported store URL scheme')) + 1;
    const out = runThroughCache(`
      const { openStore } = await import(${JSON.stringify(url('relay/src/store/index.ts'))});
      await openStore('bogus:x').catch((err) => console.log(err.stack));`);
    expect(out).toContain(`relay/src/store/index.ts:${line}:`);
  });
});
