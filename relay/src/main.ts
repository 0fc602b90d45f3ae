/**
 * The relay process. The `d365-relay` bin runs this file from the sources; the container runs the
 * bundle of it (scripts/build/relay.ts).
 */
import '../bin/quiet-warnings.js';

// Loaded after the warning filter is in place: the embedded store's node:sqlite warns as it loads.
const { main } = await import('./cli.ts');
process.exitCode = await main(process.argv.slice(2));
