// CSDL (EDMX 4.0) generated from the entity definitions, in the shape F&O serves at
// /data/$metadata: one schema Microsoft.Dynamics.DataEntities, enums as EnumType, date fields as
// Edm.DateTimeOffset, no MaxLength facets (§1.9: none are seen in real dumps).
import { ENTITIES, ENUMS, NAMESPACE } from './entities.ts';
import { edmType } from './values.ts';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
}

export function renderMetadata(): string {
  const out: string[] = [];
  out.push('<?xml version="1.0" encoding="utf-8"?>');
  out.push('<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">');
  out.push('<edmx:DataServices>');
  out.push(`<Schema Namespace="${NAMESPACE}" xmlns="http://docs.oasis-open.org/odata/ns/edm">`);
  for (const def of ENTITIES) {
    out.push(`<EntityType Name="${def.typeName}">`);
    out.push('<Key>');
    for (const k of def.keys) out.push(`<PropertyRef Name="${k}" />`);
    out.push('</Key>');
    for (const p of def.properties) {
      const nullable = def.keys.includes(p.name) || p.type !== 'String' ? ' Nullable="false"' : '';
      const scale = p.type === 'Decimal' ? ' Precision="32" Scale="6"' : '';
      out.push(`<Property Name="${p.name}" Type="${edmType(p)}"${nullable}${scale} />`);
    }
    for (const n of def.navigations) {
      const target = ENTITIES.find((e) => e.entitySet === n.target)!;
      const type = n.many
        ? `Collection(${NAMESPACE}.${target.typeName})`
        : `${NAMESPACE}.${target.typeName}`;
      out.push(`<NavigationProperty Name="${n.name}" Type="${type}">`);
      for (const [local, remote] of n.on) {
        out.push(`<ReferentialConstraint Property="${local}" ReferencedProperty="${remote}" />`);
      }
      out.push('</NavigationProperty>');
    }
    out.push('</EntityType>');
  }
  for (const [name, members] of Object.entries(ENUMS)) {
    out.push(`<EnumType Name="${name}">`);
    members.forEach((m, i) => out.push(`<Member Name="${esc(m)}" Value="${i}" />`));
    out.push('</EnumType>');
  }
  out.push('<EntityContainer Name="Resources">');
  for (const def of ENTITIES) {
    out.push(`<EntitySet Name="${def.entitySet}" EntityType="${NAMESPACE}.${def.typeName}">`);
    for (const n of def.navigations) {
      out.push(`<NavigationPropertyBinding Path="${n.name}" Target="${n.target}" />`);
    }
    out.push('</EntitySet>');
  }
  out.push('</EntityContainer>');
  out.push('</Schema>');
  out.push('</edmx:DataServices>');
  out.push('</edmx:Edmx>');
  return out.join('\n');
}
