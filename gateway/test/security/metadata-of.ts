import type { MetadataSource } from '@objectos/metadata';
import type { Cond, World } from './world.ts';

function objectYaml(w: World): MetadataSource[] {
  return [
    { file: 'parent.object.yaml', text: `name: parent\nsharingModel: ${w.owd.parent}\nfields:\n  name: { type: text }\n  amount: { type: number }\n  secret: { type: text }\n  status: { type: select, options: [{ label: Open, value: open }, { label: Closed, value: closed }] }\n` },
    { file: 'child.object.yaml', text: `name: child\nsharingModel: ${w.owd.child}\nfields:\n  name: { type: text }\n  amount: { type: number }\n  note: { type: text }\n  parent: { type: lookup, reference: parent }\n` },
    { file: 'detail.object.yaml', text: 'name: detail\nsharingModel: controlled_by_parent\nfields:\n  name: { type: text }\n  amount: { type: number }\n  parent: { type: master_detail, reference: parent }\n' },
  ];
}

function condSql(c: Cond, spelling: string): string {
  if (c.field === 'owner_id') return spelling === 'mustache' ? 'owner_id = {{ userId }}' : spelling === 'dollar' ? 'owner_id = $current_user.id' : 'owner_id = current_user.id';
  if (c.field === 'status') return `status = '${c.value}'`;
  return `amount ${c.op === 'gte' ? '>=' : '<'} ${c.value}`;
}
function condFilter(c: Cond): string {
  if (c.field === 'status') return `{ status: ${c.value} }`;
  if (c.field === 'amount') return `{ amount: { ${c.op === 'gte' ? '$gte' : '$lt'}: ${c.value} } }`;
  return "{ owner_id: '$current_user.id' }";
}
const recipient = (r: { type: string; value: string }) => `{ type: ${r.type}, value: "${r.value}" }`;

/** The world as metadata files, in the spellings the spec reference allows. */
export function metadataOf(w: World): MetadataSource[] {
  const out = objectYaml(w);
  for (const r of w.roles) out.push({ file: `${r.name}.role.yaml`, text: `name: ${r.name}\n${r.parent ? `parent: ${r.parent}\n` : ''}` });
  for (const g of w.groups) out.push({ file: `${g}.group.yaml`, text: `name: ${g}\n` });
  for (const s of w.sets) {
    const objects = Object.entries(s.objects).map(([o, p]) => `  ${o}: ${JSON.stringify(p)}`).join('\n');
    const fields = Object.entries(s.fields).map(([k, f]) => `  ${k}: ${JSON.stringify(f)}`).join('\n');
    out.push({
      file: `${s.name}.permission.yaml`,
      text: `name: ${s.name}\nisProfile: ${s.isProfile}\n${s.defaultForMember ? 'defaultFor: [member]\n' : ''}objects:${objects ? `\n${objects}` : ' {}'}\nfields:${fields ? `\n${fields}` : ' {}'}\n`,
    });
  }
  for (const r of w.rules) {
    const body = r.kind === 'owner'
      ? `type: owner\nownedBy: ${recipient(r.ownedBy)}`
      : `type: criteria\ncondition: ${r.spelling === 'sql' ? JSON.stringify(condSql(r.cond, 'sql')) : condFilter(r.cond)}`;
    out.push({ file: `${r.name}.sharing.yaml`, text: `name: ${r.name}\nobject: ${r.object}\n${body}\naccessLevel: ${r.level}\nsharedWith: ${recipient(r.to)}\n` });
  }
  for (const p of w.rls) {
    out.push({ file: `${p.name}.rls.yaml`, text: `name: ${p.name}\nobject: ${p.object}\noperation: select\nusing: ${JSON.stringify(condSql(p.cond, p.spelling))}\nroles: [${p.roles.join(', ')}]\n` });
  }
  return out;
}

