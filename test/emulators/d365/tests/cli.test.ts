import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const cli = new URL('../cli.ts', import.meta.url).pathname;

describe('npm run emulator:d365', () => {
  it('prints its base URL and credentials, serves requests and exits cleanly on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', cli, '--port', '0', '--seed', 'empty', '--no-tls'],
      {
        stdio: ['ignore', 'pipe', 'pipe']
      }
    );
    const info = await new Promise<Record<string, string>>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString('utf8');
        try {
          resolve(JSON.parse(out) as Record<string, string>);
        } catch {
          // Not complete yet.
        }
      });
      child.once('exit', (code) => reject(new Error(`exited early with ${code}`)));
    });
    expect(info.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(info.scope).toBe(`${info.url}/.default`);
    const token = await fetch(info.tokenEndpoint!, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: info.clientId!,
        client_secret: info.clientSecret!,
        scope: info.scope!
      })
    });
    const { access_token } = (await token.json()) as { access_token: string };
    const legalEntities = await fetch(`${info.url}/data/LegalEntities`, {
      headers: { authorization: `Bearer ${access_token}` }
    });
    expect(legalEntities.status).toBe(200);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('refuses a port that is not a number', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', cli, '--port', 'abc'], {
      stdio: ['ignore', 'ignore', 'pipe']
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(err).toMatch(/--port must be an integer/);
  });
});
