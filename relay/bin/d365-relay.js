#!/usr/bin/env node
// The `d365-relay` command: runs the TypeScript CLI without a build step.

// node:sqlite and type stripping print ExperimentalWarnings on Node 22; both are used knowingly.
const QUIET_WARNINGS = [
    'SQLite is an experimental feature',
    'Type Stripping is an experimental',
    'stripTypeScriptTypes is an experimental'
];
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = (warning, ...rest) => {
    const text = typeof warning === 'string' ? warning : warning?.message;
    if (typeof text === 'string' && QUIET_WARNINGS.some((q) => text.startsWith(q))) return;
    emitWarning(warning, ...rest);
};

// Node ≥ 22.18 strips types itself (the code is written for it: erasable syntax only, `.ts`
// imports), which starts about twice as fast as tsx's loader hooks. Older Node 22 uses tsx.
if (process.features.typescript) {
    // Sources already stripped once come from a disk cache, so the stripper never loads (see ts-cache.js).
    const { loadSourcesThroughCache } = await import('./ts-cache.js');
    loadSourcesThroughCache();
    // When it does load (a source not cached yet), V8 would compile its WebAssembly a second time with
    // the optimising tier, ~13 MB more RSS for the life of the process; the baseline tier strips the
    // relay's sources as fast (measured). Set before the first .ts import: it applies to later compiles.
    const { setFlagsFromString } = await import('node:v8');
    setFlagsFromString('--liftoff-only');
} else {
    const { register } = await import('tsx/esm/api');
    register();
}
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
