// A disk cache of the relay's sources with their types stripped, so a start whose sources are all
// cached never loads Node's type stripper: a WebAssembly build of swc that stays resident for the
// life of the process (about 20–30 MB of RSS, measured on Node 22.23). The output is exactly what
// Node's own stripping produces (the same `stripTypeScriptTypes`, positions kept, so stack traces
// still point at the .ts lines). Run this file directly to fill the cache ahead of time, as the
// Dockerfile does: `node relay/bin/ts-cache.js`.

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { registerHooks, stripTypeScriptTypes } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SOURCES = path.join(ROOT, 'relay', 'src') + path.sep;
const CACHE_DIR = path.join(ROOT, 'node_modules', '.cache', 'd365-relay-ts');

/** The stripped text of one source, from the cache or stripped now (and cached when writable). */
function stripped(file) {
    const source = readFileSync(file, 'utf8');
    // Keyed by content and Node version: another Node may strip differently.
    const key = createHash('sha256').update(`${process.version}\0`).update(source).digest('hex');
    const cached = path.join(CACHE_DIR, `${key}.js`);
    try {
        return readFileSync(cached, 'utf8');
    } catch {
        // Not cached yet.
    }
    const code = stripTypeScriptTypes(source);
    try {
        mkdirSync(CACHE_DIR, { recursive: true });
        const partial = `${cached}.${process.pid}.tmp`;
        writeFileSync(partial, code);
        // Atomic: a replica starting at the same moment reads a whole file or none.
        renameSync(partial, cached);
    } catch {
        // A read-only install strips on every start, as Node itself would.
    }
    return code;
}

/** Loads the relay's own `.ts` modules through the cache; everything else loads as usual. */
export function loadSourcesThroughCache() {
    registerHooks({
        load(url, context, nextLoad) {
            if (url.startsWith('file:') && url.endsWith('.ts')) {
                const file = fileURLToPath(url);
                if (file.startsWith(SOURCES)) {
                    return { format: 'module', source: stripped(file), shortCircuit: true };
                }
            }
            return nextLoad(url, context);
        }
    });
}

function* sourceFiles(dir) {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) yield* sourceFiles(file);
        else if (entry.name.endsWith('.ts')) yield file;
    }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
    let count = 0;
    for (const file of sourceFiles(SOURCES)) {
        stripped(file);
        count += 1;
    }
    process.stdout.write(`Stripped ${count} relay sources into ${CACHE_DIR}\n`);
}
