import type { MetadataSource } from '@objectos/metadata';
import { COMPUTED } from './computed.ts';
import type { ObjectName } from './oracle.ts';
import { OBJECTS, type Cond, type World } from './world.ts';

/** Stored fields of each object as (name, YAML spec), in declaration order. */
const STORED_FIELDS: Record<ObjectName, [string, string][]> = {
  parent: [['name', 'type: text, searchable: true'], ['amount', 'type: number'], ['secret', 'type: text, searchable: true'], ['status', 'type: select, options: [{ label: Open, value: open }, { label: Closed, value: closed }]']],
  child: [['name', 'type: text, searchable: true'], ['amount', 'type: number'], ['note', 'type: text, searchable: true'], ['parent', 'type: lookup, reference: parent']],
  detail: [['name', 'type: text, searchable: true'], ['amount', 'type: number'], ['parent', 'type: master_detail, reference: parent']],
};
/** Every field, the formula and roll-up fields (computed.ts) after the stored ones. */
const OBJECT_FIELDS = Object.fromEntries(Object.entries(STORED_FIELDS).map(([o, fs]) => [
  o, [...fs, ...COMPUTED.filter((c) => c.object === o).map((c): [string, string] => [c.name, c.yaml])],
])) as Record<ObjectName, [string, string][]>;
const SHARING: Record<ObjectName, (w: World) => string> = { parent: (w) => w.owd.parent, child: (w) => w.owd.child, detail: () => 'controlled_by_parent' };

/**
 * Field history of a world's metadata (off by default): every object gets `enable.trackHistory`, and
 * the fields listed in `tracked` (per object) are marked `trackHistory` (none listed: all are tracked).
 */
export interface HistoryMetadata {
  tracked?: Partial<Record<ObjectName, string[]>>;
}

/**
 * With field history on, a member who can edit every record of both organizations (HISTORY_WRITER as
 * permission set and role; a select policy lets its role past the world's RLS): tests write history with it.
 */
export const HISTORY_WRITER = 'history_writer';

function objectYaml(w: World, history?: HistoryMetadata): MetadataSource[] {
  return OBJECTS.map((o) => {
    const marked = history?.tracked?.[o] ?? [];
    const fields = OBJECT_FIELDS[o].map(([f, spec]) => `  ${f}: { ${spec}${marked.includes(f) ? ', trackHistory: true' : ''} }\n`).join('');
    return { file: `${o}.object.yaml`, text: `name: ${o}\nsharingModel: ${SHARING[o](w)}\n${history ? 'enable: { trackHistory: true }\n' : ''}fields:\n${fields}` };
  });
}

function writerYaml(w: World): MetadataSource[] {
  const all = { allowRead: true, allowCreate: true, allowEdit: true, allowDelete: true, viewAllRecords: true, modifyAllRecords: true };
  const objects = OBJECTS.map((o) => `  ${o}: ${JSON.stringify(all)}`).join('\n');
  const out: MetadataSource[] = [
    { file: `${HISTORY_WRITER}.role.yaml`, text: `name: ${HISTORY_WRITER}\n` },
    { file: `${HISTORY_WRITER}.permission.yaml`, text: `name: ${HISTORY_WRITER}\nisProfile: true\nobjects:\n${objects}\nfields: {}\n` },
  ];
  // Only beside the world's own policies: a policy on an object without any would hide it from everyone else.
  if (w.rls.length > 0) out.push({ file: `${HISTORY_WRITER}.rls.yaml`, text: `name: ${HISTORY_WRITER}_rls\nobject: parent\noperation: select\nusing: "true"\nroles: [${HISTORY_WRITER}]\n` });
  return out;
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

/** The world as metadata files, in the spellings the spec reference allows; `history` turns field history on. */
export function metadataOf(w: World, history?: HistoryMetadata): MetadataSource[] {
  const out = objectYaml(w, history);
  if (history) out.push(...writerYaml(w));
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

