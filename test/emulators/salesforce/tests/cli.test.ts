import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from './helpers.ts';

const CLI = fileURLToPath(new URL('../cli.ts', import.meta.url));
let child: ChildProcess;
let output = '';
const field = (label: RegExp) => label.exec(output)?.[1] as string;

beforeAll(async () => {
  child = spawn(process.execPath, ['--import', 'tsx', CLI, '--port', '0', '--pubsub-port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe']
  });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`CLI exited with ${code}: ${output}`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Press Ctrl+C to stop.')) resolve();
    });
  });
});
afterAll(() => {
  if (child.exitCode === null) child.kill('SIGTERM');
});

describe('npm run emulator:salesforce', () => {
  it('prints the instance URL, Pub/Sub endpoint and org ID', () => {
    expect(field(/instance URL \(also the login URL\): (\S+)/)).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+$/
    );
    expect(field(/Pub\/Sub API \(gRPC over TLS\):\s+(\S+)/)).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(field(/org ID:\s+(\S+)/)).toMatch(/^00D\w{15}$/);
  });

  it('issues a token to the printed client-credentials app', async () => {
    const url = field(/instance URL \(also the login URL\): (\S+)/);
    const res = await call(
      `${url}/services/oauth2/token`,
      'POST',
      null,
      new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: field(/client id:\s+(\S+)/),
        client_secret: field(/client secret: (\S+)/)
      }).toString(),
      { 'content-type': 'application/x-www-form-urlencoded' }
    );
    expect(res.status).toBe(200);
  });

  it('issues a token for a JWT signed with the printed private key', async () => {
    const url = field(/instance URL \(also the login URL\): (\S+)/);
    const key = createPrivateKey(readFileSync(field(/private key \(PEM\):\s+(\S+)/)));
    const assertion = await new SignJWT({
      iss: field(/consumer key \(iss\): (\S+)/),
      sub: field(/username \(sub\):\s+(\S+)/),
      aud: url
    })
      .setProtectedHeader({ alg: 'RS256' })
      .setExpirationTime('3m')
      .sign(key);
    const res = await call(
      `${url}/services/oauth2/token`,
      'POST',
      null,
      new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        assertion
      }).toString(),
      { 'content-type': 'application/x-www-form-urlencoded' }
    );
    expect(res.status).toBe(200);
  });

  it('stops on SIGTERM and deletes the generated private key', async () => {
    const keyFile = field(/private key \(PEM\):\s+(\S+)/);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(keyFile)).toBe(false);
  });
});
