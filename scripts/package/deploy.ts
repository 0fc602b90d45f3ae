// `npm run sf:deploy -- --target-org ALIAS [--integration-user USERNAME] [--sales-users U1,U2] [--dry-run]`
// Deploys the package with its Apex tests, then assigns the permission sets. Prints each sf command before
// running it and stops at the first one that fails.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

export const MANIFEST = 'manifest/package.xml';
export const INTEGRATION_PERMISSION_SET = 'D365_Integration';
export const SALES_PERMISSION_SET = 'D365_Sales_User';

export interface DeployOptions {
  targetOrg: string;
  integrationUser: string | undefined;
  salesUsers: string[];
  dryRun: boolean;
}

export interface SfCommand {
  description: string;
  args: string[];
}

export class DeployUsageError extends Error {
  override name = 'DeployUsageError';
}

export const USAGE = `Usage: npm run sf:deploy -- --target-org ALIAS [options]

  --target-org ALIAS          org alias or username (sf org login first)
  --integration-user USERNAME the relay's integration user; gets ${INTEGRATION_PERMISSION_SET}
  --sales-users U1,U2         sales users to give ${SALES_PERMISSION_SET} (repeatable)
  --dry-run                   print the sf commands without running them`;

// Salesforce usernames have the form of an email address.
const USERNAME = /^[^\s@,]+@[^\s@,]+$/;

function checkUsername(value: string, flag: string): string {
  if (!USERNAME.test(value)) {
    throw new DeployUsageError(`${flag}: "${value}" is not a Salesforce username (name@domain).`);
  }
  return value;
}

/** Reads the command line; throws DeployUsageError with a sentence naming the bad option. */
export function parseDeployArgs(argv: string[]): DeployOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'target-org': { type: 'string' },
        'integration-user': { type: 'string' },
        'sales-users': { type: 'string', multiple: true },
        'dry-run': { type: 'boolean', default: false }
      }
    }));
  } catch (error) {
    throw new DeployUsageError((error as Error).message, { cause: error });
  }
  const targetOrg = values['target-org']?.trim();
  if (!targetOrg || targetOrg.startsWith('-')) {
    throw new DeployUsageError(
      '--target-org is required: the alias or username of the org to deploy to.'
    );
  }
  const integrationUser = values['integration-user']?.trim();
  const salesUsers = (values['sales-users'] ?? [])
    .flatMap((list) => list.split(','))
    .map((user) => user.trim())
    .filter((user) => user.length > 0)
    .map((user) => checkUsername(user, '--sales-users'));
  return {
    targetOrg,
    integrationUser: integrationUser
      ? checkUsername(integrationUser, '--integration-user')
      : undefined,
    salesUsers: [...new Set(salesUsers)],
    dryRun: values['dry-run'] ?? false
  };
}

/** The sf commands a deploy runs, in order. */
export function deployCommands(options: DeployOptions): SfCommand[] {
  const commands: SfCommand[] = [
    {
      description:
        'Deploy the package and run the local Apex tests (75% coverage required in production)',
      args: [
        'project',
        'deploy',
        'start',
        '--manifest',
        MANIFEST,
        '--target-org',
        options.targetOrg,
        '--test-level',
        'RunLocalTests',
        '--wait',
        '60'
      ]
    }
  ];
  if (options.integrationUser) {
    commands.push({
      description: `Give the integration user ${options.integrationUser} the ${INTEGRATION_PERMISSION_SET} permission set`,
      args: [
        'org',
        'assign',
        'permset',
        '--name',
        INTEGRATION_PERMISSION_SET,
        '--on-behalf-of',
        options.integrationUser,
        '--target-org',
        options.targetOrg
      ]
    });
  }
  if (options.salesUsers.length > 0) {
    commands.push({
      description: `Give ${options.salesUsers.length} sales user(s) the ${SALES_PERMISSION_SET} permission set`,
      args: [
        'org',
        'assign',
        'permset',
        '--name',
        SALES_PERMISSION_SET,
        ...options.salesUsers.flatMap((user) => ['--on-behalf-of', user]),
        '--target-org',
        options.targetOrg
      ]
    });
  }
  return commands;
}

function main(): void {
  let options: DeployOptions;
  try {
    options = parseDeployArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof DeployUsageError)) throw error;
    console.error(`${error.message}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const repoRoot = path.resolve(import.meta.dirname, '..', '..');
  // Launch the sf CLI with this Node (22): the machine's own node may be older than the CLI supports.
  const sfCli = path.join(repoRoot, 'node_modules', '@salesforce', 'cli', 'bin', 'run.js');
  for (const command of deployCommands(options)) {
    console.log(`\n# ${command.description}\n$ sf ${command.args.join(' ')}`);
    if (options.dryRun) continue;
    const result = spawnSync(process.execPath, [sfCli, ...command.args], {
      cwd: repoRoot,
      stdio: 'inherit',
      env: { ...process.env, SF_DISABLE_TELEMETRY: 'true', SF_AUTOUPDATE_DISABLE: 'true' }
    });
    if (result.status !== 0) {
      console.error(
        `\nStopped: "sf ${command.args.slice(0, 3).join(' ')}" failed (exit ${result.status}).`
      );
      process.exitCode = result.status ?? 1;
      return;
    }
  }
  if (!options.integrationUser) {
    console.log(
      `\nNo --integration-user given: assign ${INTEGRATION_PERMISSION_SET} to the relay's user before switching flows on.`
    );
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main();
}
