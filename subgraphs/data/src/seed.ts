import { count, sql } from 'drizzle-orm';
import type { FieldModel } from '@objectos/metadata';
import type { ObjectPlan } from '@objectos/schema';
import { queryRows, type SqlRunner } from '@objectos/db';
import type { DataSource } from './data-source.ts';
import { OWNER, TENANT } from './db/tables.ts';

export interface SeedResult {
  /** Records inserted per object; empty when the database already had data or was seeded before. */
  inserted: Record<string, number>;
}

const WORDS = ['Acme', 'Globex', 'Initech', 'Umbrella', 'Stark', 'Wayne', 'Hooli', 'Vandelay', 'Soylent', 'Tyrell', 'Cyberdyne', 'Wonka', 'Oscorp', 'Aperture', 'Massive', 'Dynamic'];
const SUFFIX = ['Industries', 'Labs', 'Systems', 'Holdings', 'Partners', 'Group', 'Logistics', 'Foods'];
const FIRST = ['Ada', 'Grace', 'Alan', 'Linus', 'Margaret', 'Ken', 'Barbara', 'Edsger', 'Frances', 'Donald', 'Radia', 'Tim'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Torvalds', 'Hamilton', 'Thompson', 'Liskov', 'Dijkstra', 'Allen', 'Knuth', 'Perlman', 'Berners-Lee'];
const VERBS = ['Follow up on', 'Review', 'Prepare', 'Schedule', 'Send', 'Confirm', 'Escalate', 'Close'];
const NOUNS = ['renewal', 'proposal', 'invoice', 'onboarding', 'contract', 'demo', 'support ticket', 'quote'];

/** Deterministic PRNG (mulberry32), so every fresh start seeds the same demo data. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Parents before children: an object comes after every object its relations point at (self-references aside). */
function seedOrder(plans: ObjectPlan[]): ObjectPlan[] {
  const done = new Set<string>();
  const out: ObjectPlan[] = [];
  while (out.length < plans.length) {
    const next = plans.find((p) => !done.has(p.object.name) && p.relations.every((r) => r.target === p.object.name || done.has(r.target)))
      ?? plans.find((p) => !done.has(p.object.name))!;
    done.add(next.object.name);
    out.push(next);
  }
  return out;
}

/**
 * Seeds a few hundred demo records into an empty database, once. Values respect each field's limits,
 * required relations point at seeded parents, unique fields get unique values.
 */
export async function seedDemoData(ds: DataSource): Promise<SeedResult> {
  const plans = seedOrder(Object.values(ds.plan.objects));
  return ds.db.transaction(async (tx) => {
    const marker = await queryRows<{ key: string }>(tx, sql`select key from "_objectos_meta" where key = 'seeded'`);
    if (marker.length > 0) return { inserted: {} };
    for (const p of plans) {
      const [r] = await tx.select({ n: count() }).from(ds.tables[p.object.name]!);
      if (Number(r?.n) > 0) return { inserted: {} };
    }
    const owners = await seedOwners(tx, ds);
    const random = rng(20261123);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const ids = new Map<string, string[]>();
    const inserted: Record<string, number> = {};
    for (const p of plans) {
      const n = p.relations.some((r) => r.field.type === 'master_detail') ? 120 : p.relations.length > 1 ? 90 : 40;
      const rows: Record<string, unknown>[] = [];
      for (let i = 0; i < n; i++) {
        const row: Record<string, unknown> = { [TENANT.key]: ds.tenant, [OWNER.key]: owners[i % owners.length] };
        for (const c of p.columns) {
          if (!c.field || c.type === 'autonumber') continue;
          const v = valueFor(c.field, i, p, ids, random, pick);
          if (v !== undefined) row[c.graphqlName] = v;
        }
        rows.push(row);
      }
      const out = await tx.insert(ds.tables[p.object.name]!).values(rows).returning();
      ids.set(p.object.name, out.map((r) => String((r as { id: unknown }).id)));
      inserted[p.object.name] = out.length;
    }
    await tx.execute(sql`insert into "_objectos_meta" (key, value) values ('seeded', to_jsonb(now()))`);
    return { inserted };
  });
}

/**
 * Who owns the seeded records, in turn: the demo admin, then the organization's members with a role
 * (role, then id order), so the role hierarchy and sharing rules show each demo member something.
 */
async function seedOwners(tx: SqlRunner, ds: DataSource): Promise<(string | null)[]> {
  const members = await queryRows<{ user_id: string }>(tx, sql`select user_id from security.member_access
    where organization_id = ${ds.tenant} and role is not null order by role, user_id`);
  const owners = [...(ds.actor ? [ds.actor] : []), ...members.map((m) => m.user_id).filter((u) => u !== ds.actor)];
  return owners.length > 0 ? owners : [ds.actor];
}

function valueFor(
  f: FieldModel, i: number, p: ObjectPlan, ids: Map<string, string[]>, random: () => number, pick: <T>(xs: readonly T[]) => T,
): unknown {
  const optional = !f.required;
  if (f.type === 'lookup' || f.type === 'master_detail') {
    const parents = f.reference === p.object.name ? [] : ids.get(f.reference) ?? [];
    if (parents.length === 0 || (optional && random() < 0.2)) return f.required ? undefined : null;
    return pick(parents);
  }
  if (optional && f.type !== 'boolean' && random() < 0.15) return null;
  const clip = (s: string) => ('maxLength' in f && f.maxLength !== undefined ? s.slice(0, f.maxLength) : s);
  switch (f.type) {
    case 'text': {
      const text = /first/.test(f.name) ? pick(FIRST) : /last|surname/.test(f.name) ? pick(LAST)
        : /subject|title|step/.test(f.name) ? `${pick(VERBS)} ${pick(NOUNS)}` : `${pick(WORDS)} ${pick(SUFFIX)} ${i + 1}`;
      return clip(f.unique ? `${text} #${i + 1}` : text);
    }
    case 'textarea': return clip(`Notes about ${pick(NOUNS)} for record ${i + 1}.`);
    case 'email': return clip(`${pick(FIRST).toLowerCase()}.${pick(LAST).toLowerCase().replace(/[^a-z]/g, '')}${i + 1}@example.com`);
    case 'url': return clip(`https://www.${pick(WORDS).toLowerCase()}${i + 1}.example.com`);
    case 'phone': return clip(`+1 555 ${String(1000 + i).padStart(4, '0')}`);
    case 'number': case 'currency': case 'percent': {
      const min = f.min ?? 0;
      const max = f.max ?? (f.type === 'percent' ? 100 : f.type === 'currency' ? 5_000_000 : 10_000);
      const scale = f.scale ?? (f.type === 'number' && f.precision !== undefined ? 0 : 2);
      return Number((min + random() * (max - min)).toFixed(Math.min(scale, 2)));
    }
    case 'boolean': return random() < 0.7;
    case 'date': return new Date(Date.UTC(2024, 0, 1) + Math.floor(random() * 900) * 86_400_000).toISOString().slice(0, 10);
    case 'datetime': return new Date(Date.UTC(2025, 0, 1) + Math.floor(random() * 600 * 86_400_000)) ;
    case 'time': return `${String(8 + Math.floor(random() * 10)).padStart(2, '0')}:${pick(['00', '15', '30', '45'])}:00`;
    case 'select': return f.defaultValue && random() < 0.3 ? f.defaultValue : pick(f.options).value;
    case 'multiselect': return f.options.filter(() => random() < 0.3).map((o) => o.value);
    case 'json': return { note: `demo ${i + 1}`, score: Math.round(random() * 100) };
    default: return undefined;
  }
}
