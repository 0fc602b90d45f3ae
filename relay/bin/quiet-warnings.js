// node:sqlite and type stripping print ExperimentalWarnings on Node 22; both are used knowingly.
// Imported before either loads, by the bin and by the relay's entry (so also by the bundle).
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
