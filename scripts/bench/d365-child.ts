/**
 * The D365 emulator in a child process for benchmarks that measure the relay's memory or pace
 * without counting the emulator's: starts `test/emulators/d365/cli.ts` on a free port with a fresh
 * app registration, reads the JSON block it prints, and offers its control API.
 */

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface D365ChildInfo {
  url: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

export interface D365Child {
  info: D365ChildInfo;
  /** PEM file of the emulator's self-signed certificate, and its text. */
  caFile: string;
  ca: string;
  /** Calls `/_emulator<route>` and resolves to the parsed JSON answer, if any. */
  control(method: string, route: string, body?: unknown): Promise<unknown>;
  close(): void;
}

/** The first complete JSON object in the CLI's output: its URL, tenant and app registration. */
async function readInfo(stdout: NodeJS.ReadableStream): Promise<D365ChildInfo> {
  let buffer = '';
  for await (const chunk of stdout) {
    buffer += String(chunk);
    const start = buffer.indexOf('{');
    for (
      let end = buffer.indexOf('}', start);
      start >= 0 && end >= 0;
      end = buffer.indexOf('}', end + 1)
    ) {
      try {
        return JSON.parse(buffer.slice(start, end + 1)) as D365ChildInfo;
      } catch {
        // Not the whole object yet.
      }
    }
  }
  throw new Error('The D365 emulator exited before printing its URL');
}

/** Starts the emulator; `workdir` receives its certificate. */
export async function startD365Child(workdir: string): Promise<D365Child> {
  const caFile = path.join(workdir, 'ca.pem');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'test/emulators/d365/cli.ts',
      '--port',
      '0',
      '--client-id',
      randomUUID(),
      '--client-secret',
      randomUUID(),
      '--ca-file',
      caFile
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] }
  );
  let info: D365ChildInfo;
  try {
    info = await readInfo(child.stdout);
  } catch (error) {
    child.kill('SIGTERM');
    throw error;
  }
  const ca = readFileSync(caFile, 'utf8');
  const control = (method: string, route: string, body?: unknown) =>
    new Promise<unknown>((resolve, reject) => {
      const request = https.request(
        `${info.url}/_emulator${route}`,
        { method, ca, headers: { 'Content-Type': 'application/json' } },
        (response) => {
          let text = '';
          response.on('data', (chunk) => (text += String(chunk)));
          response.on('end', () => resolve(text ? JSON.parse(text) : undefined));
        }
      );
      request.on('error', reject);
      request.end(body === undefined ? undefined : JSON.stringify(body));
    });
  return { info, caFile, ca, control, close: () => child.kill('SIGTERM') };
}
