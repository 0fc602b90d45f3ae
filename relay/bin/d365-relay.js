#!/usr/bin/env node
// The `d365-relay` command from a checkout: runs the TypeScript sources without a build step. The
// container runs the bundle that `npm run build:relay` makes of the same entry (relay/src/main.ts).
import './quiet-warnings.js';

// Node ≥ 22.18 strips types itself (the code is written for it: erasable syntax only, `.ts`
// imports), which starts about twice as fast as tsx's loader hooks. Older Node 22 uses tsx.
if (!process.features.typescript) {
    const { register } = await import('tsx/esm/api');
    register();
}
await import('../src/main.ts');
