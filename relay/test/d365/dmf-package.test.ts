import { unzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { buildDmfPackage, decodeText, readDmfPackage } from '../../src/d365/dmf-package.ts';

const input = {
  definitionGroupId: 'Relay customers',
  entityName: 'Customers V3',
  targetEntity: 'CustCustomerV3Entity',
  records: [
    { CustomerAccount: 'C-1', OrganizationName: 'Fish & "Chips" <Ltd>', CustomerGroupId: '10' },
    { CustomerAccount: 'C-2', OrganizationName: 'Line\nbreak', CustomerGroupId: null }
  ]
};

describe('buildDmfPackage', () => {
  it('writes Manifest.xml, PackageHeader.xml and the data file named in the manifest', () => {
    const files = unzipSync(buildDmfPackage(input));
    expect(Object.keys(files).sort()).toEqual([
      'CUSTCUSTOMERV3ENTITY.xml',
      'Manifest.xml',
      'PackageHeader.xml'
    ]);
    const manifest = decodeText(files['Manifest.xml'] as Uint8Array);
    expect(manifest).toContain('<InputFilePath>CUSTCUSTOMERV3ENTITY.xml</InputFilePath>');
    expect(manifest).toContain('<EntityName>Customers V3</EntityName>');
    expect(manifest).toContain('<TargetEntity>CustCustomerV3Entity</TargetEntity>');
    expect(manifest).toContain('<XMLField>ORGANIZATIONNAME</XMLField>');
  });

  it('encodes the XML headers as UTF-16 LE with a BOM and no declaration, as D365 does', () => {
    const header = unzipSync(buildDmfPackage(input))['PackageHeader.xml'] as Uint8Array;
    expect([header[0], header[1]]).toEqual([0xff, 0xfe]);
    const text = decodeText(header);
    expect(text.startsWith('<DataManagementPackageHeader')).toBe(true);
    expect(text).toContain('<PackageType>DefinitionGroup</PackageType>');
    expect(text).toContain('<PackageVersion>2</PackageVersion>');
  });

  it('round-trips values with XML special characters and line breaks, leaving nulls out', () => {
    const [entity] = readDmfPackage(buildDmfPackage(input));
    expect(entity?.records).toEqual([
      { CUSTOMERACCOUNT: 'C-1', ORGANIZATIONNAME: 'Fish & "Chips" <Ltd>', CUSTOMERGROUPID: '10' },
      { CUSTOMERACCOUNT: 'C-2', ORGANIZATIONNAME: 'Line\nbreak' }
    ]);
  });

  it('refuses field names that are not staging identifiers', () => {
    expect(() => buildDmfPackage({ ...input, records: [{ 'A B': 'x' }] })).toThrow(/field/);
  });
});
