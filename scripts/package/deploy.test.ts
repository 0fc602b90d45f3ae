import { describe, expect, it } from 'vitest';
import { DeployUsageError, deployCommands, parseDeployArgs } from './deploy.ts';

describe('parseDeployArgs', () => {
  it('reads the target org, the integration user and a comma-separated list of sales users', () => {
    expect(
      parseDeployArgs([
        '--target-org',
        'prod',
        '--integration-user',
        'relay@acme.com',
        '--sales-users',
        'ann@acme.com, bob@acme.com',
        '--sales-users',
        'ann@acme.com'
      ])
    ).toEqual({
      targetOrg: 'prod',
      integrationUser: 'relay@acme.com',
      salesUsers: ['ann@acme.com', 'bob@acme.com'],
      dryRun: false
    });
  });

  it('needs only the target org', () => {
    expect(parseDeployArgs(['--target-org=my-sandbox', '--dry-run'])).toEqual({
      targetOrg: 'my-sandbox',
      integrationUser: undefined,
      salesUsers: [],
      dryRun: true
    });
  });

  it.each([
    [[], '--target-org is required'],
    [['--target-org', ''], '--target-org is required'],
    [['--target-org', '--dry-run'], "Option '--target-org' argument is ambiguous"],
    [['--target-org=-x'], '--target-org is required'],
    [
      ['--target-org', 'prod', '--integration-user', 'relay'],
      '--integration-user: "relay" is not a Salesforce username'
    ],
    [
      ['--target-org', 'prod', '--sales-users', 'ann@acme.com,bob'],
      '--sales-users: "bob" is not a Salesforce username'
    ],
    [['--target-org', 'prod', '--wait', '10'], "Unknown option '--wait'"],
    [['--target-org', 'prod', 'extra'], 'extra']
  ])('refuses %j with a message naming the problem', (argv, message) => {
    expect(() => parseDeployArgs(argv)).toThrow(DeployUsageError);
    expect(() => parseDeployArgs(argv)).toThrow(message);
  });
});

describe('deployCommands', () => {
  it('deploys the manifest with the local Apex tests, then assigns both permission sets', () => {
    const commands = deployCommands({
      targetOrg: 'prod',
      integrationUser: 'relay@acme.com',
      salesUsers: ['ann@acme.com', 'bob@acme.com'],
      dryRun: false
    });
    expect(commands.map((command) => command.args)).toEqual([
      [
        'project',
        'deploy',
        'start',
        '--manifest',
        'manifest/package.xml',
        '--target-org',
        'prod',
        '--test-level',
        'RunLocalTests',
        '--wait',
        '60'
      ],
      [
        'org',
        'assign',
        'permset',
        '--name',
        'D365_Integration',
        '--on-behalf-of',
        'relay@acme.com',
        '--target-org',
        'prod'
      ],
      [
        'org',
        'assign',
        'permset',
        '--name',
        'D365_Sales_User',
        '--on-behalf-of',
        'ann@acme.com',
        '--on-behalf-of',
        'bob@acme.com',
        '--target-org',
        'prod'
      ]
    ]);
  });

  it('only deploys when no users are given', () => {
    const commands = deployCommands({
      targetOrg: 'prod',
      integrationUser: undefined,
      salesUsers: [],
      dryRun: false
    });
    expect(commands).toHaveLength(1);
    expect(commands[0]?.args.slice(0, 3)).toEqual(['project', 'deploy', 'start']);
  });
});
