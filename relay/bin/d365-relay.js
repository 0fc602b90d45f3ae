#!/usr/bin/env node
// The `d365-relay` command: runs the TypeScript CLI through tsx (no build step).
import { register } from 'tsx/esm/api';

// node:sqlite prints an ExperimentalWarning on Node 22; the embedded store relies on it knowingly.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = (warning, ...rest) => {
    const text = typeof warning === 'string' ? warning : warning?.message;
    if (typeof text === 'string' && text.startsWith('SQLite is an experimental feature')) return;
    emitWarning(warning, ...rest);
};

register();
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
