/**
 * The relay as the container runs it, for benchmarks: builds the bundle of the current sources
 * (scripts/build/relay.ts), precompiles it into a compile cache in `cwd`, spawns
 * `node relay/dist/main.mjs start` with the given environment and waits for `/healthz`. The cold start is spawn → first 200 from `/healthz`.
 */

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** The Dockerfile's ENV NODE_OPTIONS; benchmarks take '' for Node's defaults. */
export const CONTAINER_NODE_OPTIONS = '--max-semi-space-size=2 --max-old-space-size=384';

export interface RelayChild {
  child: ChildProcess;
  pid: number;
  coldStartMs: number;
  /** SIGTERM (a graceful stop), resolved when the process has exited. */
  stop(): Promise<void>;
}

/** VmRSS (now) and VmHWM (peak since start) of a process, in MB. */
export function processMemory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

export async function startRelayChild(options: {
  cwd: string;
  port: number;
  env: Record<string, string | undefined>;
  /** Node flags before the entry, e.g. --cpu-prof. */
  nodeFlags?: string[];
}): Promise<RelayChild> {
  execFileSync(
    process.execPath,
    ['--disable-warning=ExperimentalWarning', path.join(ROOT, 'scripts/build/relay.ts')],
    { stdio: 'ignore' }
  );
  // As the image does at build time: the bundle compiled into Node's compile cache under the same
  // V8 flags (the cache is keyed by them).
  const env = {
    ...options.env,
    NODE_COMPILE_CACHE: path.join(options.cwd, '.cache', 'node-compile')
  };
  execFileSync(process.execPath, [path.join(ROOT, 'relay/dist/main.mjs'), 'precompile'], {
    env,
    stdio: 'ignore'
  });
  const spawnedAt = performance.now();
  const child = spawn(
    process.execPath,
    [...(options.nodeFlags ?? []), path.join(ROOT, 'relay/dist/main.mjs'), 'start'],
    { cwd: options.cwd, env, stdio: ['ignore', 'inherit', 'inherit'] }
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  try {
    for (;;) {
      try {
        if ((await fetch(`http://127.0.0.1:${options.port}/healthz`)).ok) break;
      } catch {
        // Not listening yet.
      }
      if (child.exitCode !== null) throw new Error(`The relay exited with ${child.exitCode}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { child, pid: child.pid!, coldStartMs: performance.now() - spawnedAt, stop };
}
