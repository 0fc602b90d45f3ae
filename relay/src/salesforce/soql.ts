/** SOQL literals that customer data cannot break out of. */

/**
 * A quoted SOQL string literal. Salesforce's escape sequences: \' \" \\ \n \r \t \b \f; a bare backslash
 * before anything else is a syntax error, so every backslash is doubled first.
 */
export function soqlString(value: string): string {
  const escaped = value
    .replaceAll('\\', '\\\\')
    .replaceAll("'", "\\'")
    .replaceAll('"', '\\"')
    .replaceAll('\n', '\\n')
    .replaceAll('\r', '\\r')
    .replaceAll('\t', '\\t');
  return `'${escaped}'`;
}

/** `('a','b')` for an IN clause. */
export function soqlList(values: readonly string[]): string {
  if (values.length === 0) throw new TypeError('An IN list needs at least one value');
  return `(${values.map(soqlString).join(',')})`;
}
