// `npm run validate:package`: every offline check of the Salesforce package. No org is needed; each check
// prints its findings, the summary lists PASS/FAIL per check, and any failure exits with status 1.
//   --project-dir <dir>   check another copy of the project (default: this repository)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  checkContract,
  checkCustomNameReferences,
  checkManifestCoverage,
  listFiles,
  type RelayContract
} from './contract.ts';

interface CheckResult {
  name: string;
  problems: string[];
  warnings: string[];
}

const require = createRequire(import.meta.url);
const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');
const JAVA_LIB = path.join(
  path.dirname(require.resolve('@salesforce/code-analyzer-pmd-engine/package.json')),
  'dist',
  'java-lib'
);
// @salesforce/cli exports no package.json; its bin script is launched with this Node (22), not the shell's.
const SF_CLI = path.join(REPO_ROOT, 'node_modules', '@salesforce', 'cli', 'bin', 'run.js');
const PMD_RULESET = path.join(REPO_ROOT, 'config', 'pmd-ruleset.xml');
// Code Analyzer's own severity per PMD rule (1 Critical … 5 Info); PMD's JSON output carries no priority.
const { RULE_MAPPINGS } =
  require('@salesforce/code-analyzer-pmd-engine/dist/pmd-rule-mappings.js') as {
    RULE_MAPPINGS: Record<string, { severity: number }>;
  };
/** Findings of this severity or more serious fail the check (Code Analyzer: 1 Critical, 2 High). */
const FAILING_SEVERITY = 2;

function run(
  command: string,
  args: string[],
  cwd: string,
  home: string,
  env: NodeJS.ProcessEnv = {}
) {
  return spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    // A throw-away HOME keeps the sf CLI and apex-ls caches out of the user's home and works where HOME is read-only.
    env: {
      ...process.env,
      HOME: home,
      SF_DISABLE_TELEMETRY: 'true',
      SF_AUTOUPDATE_DISABLE: 'true',
      ...env
    }
  });
}

function convertSource(projectDir: string, work: string): CheckResult {
  const outputDir = path.join(work, 'mdapi');
  const result = run(
    process.execPath,
    [
      SF_CLI,
      'project',
      'convert',
      'source',
      '--root-dir',
      'force-app',
      '--output-dir',
      outputDir,
      '--json'
    ],
    projectDir,
    work
  );
  const problems: string[] = [];
  if (result.status !== 0) {
    let message = result.stderr || result.stdout;
    try {
      message = (JSON.parse(result.stdout) as { message?: string }).message ?? message;
    } catch {
      // Not JSON: keep the raw output.
    }
    problems.push(`sf project convert source failed: ${message.trim()}`);
  } else {
    problems.push(
      ...checkManifestCoverage(
        path.join(outputDir, 'package.xml'),
        path.join(projectDir, 'manifest', 'package.xml')
      )
    );
  }
  return { name: 'sf project convert source (+ manifest coverage)', problems, warnings: [] };
}

function apexSemantics(projectDir: string, work: string): CheckResult {
  const result = run(
    'java',
    [
      '-cp',
      path.join(JAVA_LIB, '*'),
      'io.github.apexdevtools.apexls.CheckForIssues',
      '-w',
      projectDir,
      '-n'
    ],
    projectDir,
    work
  );
  const problems: string[] = [];
  // CheckForIssues prints "<file>" then one indented "<Kind>: line …" per issue, and exits non-zero on errors.
  let currentFile = '';
  for (const line of result.stdout.split('\n')) {
    if (line.startsWith('/')) currentFile = path.relative(projectDir, line.trim());
    else if (line.trim()) problems.push(`${currentFile}: ${line.trim()}`);
  }
  if (result.status !== 0 && problems.length === 0) {
    problems.push(
      `apex-ls exited with status ${result.status}: ${(result.stderr || result.error?.message || '').trim()}`
    );
  }
  problems.push(...checkCustomNameReferences(path.join(projectDir, 'force-app')));
  return { name: 'Apex semantics (apex-ls CheckForIssues + custom names)', problems, warnings: [] };
}

/** Rules raised in config/pmd-ruleset.xml with `<priority>`: the project's own severity wins. */
function rulesetPriorities(ruleset: string): Map<string, number> {
  const priorities = new Map<string, number>();
  for (const match of readFileSync(ruleset, 'utf8').matchAll(
    /<rule\s+ref="[^"]*\/(\w+)"\s*>\s*<priority>(\d)<\/priority>/g
  )) {
    priorities.set(match[1] as string, Number(match[2]));
  }
  return priorities;
}

function pmdRules(projectDir: string, work: string): CheckResult {
  const files = listFiles(path.join(projectDir, 'force-app')).filter((f) =>
    /\.(cls|trigger)$/.test(f)
  );
  const input = path.join(work, 'pmd-input.json');
  const output = path.join(work, 'pmd-output.json');
  writeFileSync(
    input,
    JSON.stringify({
      ruleSetInputFile: PMD_RULESET,
      runDataPerLanguage: { apex: { filesToScan: files } }
    })
  );
  // Code Analyzer's own PMD wrapper (shipped with the engine): PMD 7 without a separate pmd-cli download.
  const result = run(
    'java',
    [
      '-cp',
      path.join(JAVA_LIB, '*'),
      'com.salesforce.sfca.pmdwrapper.PmdWrapper',
      'run',
      input,
      output
    ],
    projectDir,
    work,
    // Lets PMD resolve the project's own Apex types and SObject fields across files.
    { PMD_APEX_ROOT_DIRECTORY: projectDir }
  );
  if (result.status !== 0 || !existsSync(output)) {
    return {
      name: 'PMD 7 Apex rules',
      problems: [
        `PMD did not run (status ${result.status}): ${(result.stderr || result.stdout).trim().slice(-2000)}`
      ],
      warnings: []
    };
  }
  const report = JSON.parse(readFileSync(output, 'utf8')) as {
    violations: {
      rule: string;
      message: string;
      codeLocation: { file: string; startLine: number };
    }[];
    processingErrors: { file: string; message: string }[];
  };
  const priorities = rulesetPriorities(PMD_RULESET);
  const problems: string[] = report.processingErrors.map(
    (e) =>
      `${path.relative(projectDir, e.file)}: PMD could not process the file: ${e.message.split('\n')[0]}`
  );
  const warnings: string[] = [];
  for (const v of report.violations) {
    // Rules Code Analyzer has not reviewed count as failures until someone decides otherwise.
    const severity = priorities.get(v.rule) ?? RULE_MAPPINGS[v.rule]?.severity ?? 1;
    const line = `${path.relative(projectDir, v.codeLocation.file)}:${v.codeLocation.startLine}: ${v.rule} (severity ${severity}): ${v.message}`;
    (severity <= FAILING_SEVERITY ? problems : warnings).push(line);
  }
  return {
    name: 'PMD 7 Apex rules (security, performance, best practices, error prone)',
    problems,
    warnings
  };
}

function relayContract(projectDir: string): CheckResult {
  const contract = JSON.parse(
    readFileSync(path.join(projectDir, 'scripts', 'package', 'relay-contract.json'), 'utf8')
  ) as RelayContract;
  return {
    name: 'relay contract (scripts/package/relay-contract.json)',
    problems: checkContract(path.join(projectDir, 'force-app'), contract),
    warnings: []
  };
}

function main(): void {
  const { values } = parseArgs({
    options: { 'project-dir': { type: 'string', default: REPO_ROOT } }
  });
  const projectDir = path.resolve(values['project-dir'] as string);
  const work = mkdtempSync(path.join(tmpdir(), 'validate-package-'));
  try {
    const checks = [convertSource, apexSemantics, pmdRules].map((check) => {
      process.stdout.write(`running ${check.name}…\n`);
      return check(projectDir, work);
    });
    checks.push(relayContract(projectDir));
    let failed = 0;
    for (const check of checks) {
      for (const warning of check.warnings) console.log(`  warning  ${warning}`);
      for (const problem of check.problems) console.log(`  error    ${problem}`);
    }
    console.log('\nSummary');
    for (const check of checks) {
      const ok = check.problems.length === 0;
      if (!ok) failed++;
      const counts = `${check.problems.length} error(s), ${check.warnings.length} warning(s)`;
      console.log(`  ${ok ? 'PASS' : 'FAIL'}  ${check.name}: ${counts}`);
    }
    console.log(
      failed === 0 ? '\nThe package passed every offline check.' : `\n${failed} check(s) failed.`
    );
    process.exitCode = failed === 0 ? 0 : 1;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
