import { computedOf } from './computed.ts';
import type { Cond, ObjPerm, Rec, Recipient, User, World } from './world.ts';

/**
 * An independent model of ObjectOS record and field access (our UserRecordAccess): written from the
 * rules as documented, sharing no code with schema/ or the data subgraph. The randomized test compares
 * every gateway answer with it.
 */
export type ObjectName = 'parent' | 'child' | 'detail';
const FLAGS: (keyof ObjPerm)[] = ['allowRead', 'allowCreate', 'allowEdit', 'allowDelete', 'viewAllRecords', 'modifyAllRecords'];

export class Oracle {
  constructor(private readonly w: World) {}

  /** Effective permission sets: assigned ones; the member default profile unless a profile is assigned. */
  sets(u: User) {
    const assigned = this.w.sets.filter((s) => u.sets.includes(s.name));
    const hasProfile = assigned.some((s) => s.isProfile);
    return hasProfile ? assigned : [...this.w.sets.filter((s) => s.defaultForMember), ...assigned];
  }

  perm(u: User, o: ObjectName): ObjPerm {
    const out = Object.fromEntries(FLAGS.map((f) => [f, false])) as unknown as ObjPerm;
    for (const s of this.sets(u)) for (const f of FLAGS) if (s.objects[o]?.[f]) out[f] = true;
    return out;
  }

  /** A computed field (computed.ts) also needs every field it reads, transitively: it shows what it reads. */
  fieldReadable(u: User, o: ObjectName, field: string): boolean {
    const own = this.sets(u).some((s) => s.objects[o]?.allowRead && (s.fields[`${o}.${field}`]?.readable ?? true));
    return own && (computedOf(o, field)?.reads.every(([x, f]) => this.fieldReadable(u, x, f)) ?? true);
  }

  fieldEditable(u: User, o: ObjectName, field: string): boolean {
    return this.sets(u).some((s) => s.objects[o]?.allowEdit && (s.fields[`${o}.${field}`] ? s.fields[`${o}.${field}`]!.readable && s.fields[`${o}.${field}`]!.editable : true));
  }

  private below(role: string): string[] {
    const out: string[] = [];
    const visit = (r: string) => {
      for (const c of this.w.roles.filter((x) => x.parent === r)) {
        out.push(c.name);
        visit(c.name);
      }
    };
    visit(role);
    return out;
  }

  reaches(u: User, to: Recipient): boolean {
    if (to.type === 'user') return u.id === to.value;
    if (to.type === 'group') return u.groups.includes(to.value);
    if (u.role === null) return false;
    if (to.type === 'role') return u.role === to.value;
    return u.role === to.value || this.below(to.value).includes(u.role);
  }

  private user(id: string): User | undefined {
    return this.w.users.find((x) => x.id === id);
  }

  /** Three-valued: null (unknown) never grants. */
  cond(c: Cond, r: Rec, u: User): boolean {
    if (c.field === 'owner_id') return r.owner === u.id;
    if (c.field === 'status') return r.status === c.value;
    if (r.amount === null) return false;
    return c.op === 'gte' ? r.amount >= c.value : r.amount < c.value;
  }

  private rls(u: User, o: ObjectName, r: Rec): boolean {
    const policies = this.w.rls.filter((p) => p.object === o);
    if (policies.length === 0) return true;
    const applicable = policies.filter((p) => p.roles.length === 0 || (u.role !== null && p.roles.includes(u.role)));
    return applicable.some((p) => this.cond(p.cond, r, u));
  }

  /** Record access without the object permission and RLS (sharing axis). */
  private shared(u: User, o: 'parent' | 'child', r: Rec, level: 'read' | 'edit'): boolean {
    const owd = this.w.owd[o];
    if (owd === 'public_read_write' || (owd === 'public_read' && level === 'read')) return true;
    if (r.owner === u.id) return true;
    const owner = this.user(r.owner);
    if (u.role && owner?.role && this.below(u.role).includes(owner.role)) return true;
    for (const rule of this.w.rules) {
      if (rule.object !== o || (level === 'edit' && rule.level !== 'edit') || !this.reaches(u, rule.to)) continue;
      if (rule.kind === 'criteria' ? this.cond(rule.cond, r, u) : owner !== undefined && owner.org === u.org && this.reaches(owner, rule.ownedBy)) return true;
    }
    return this.w.shares.some((s) => s.object === o && s.record === r.id && (level === 'read' || s.level === 'edit') && this.reaches(u, s.to));
  }

  can(u: User, o: ObjectName, r: Rec, level: 'read' | 'edit'): boolean {
    if (r.org !== u.org) return false;
    const p = this.perm(u, o);
    if (level === 'read' ? !p.allowRead : !p.allowEdit) return false;
    let ok: boolean;
    if (level === 'read' ? p.viewAllRecords : p.modifyAllRecords) ok = true;
    else if (o === 'detail') {
      const parent = this.w.records.parent.find((x) => x.id === r.parent);
      ok = parent !== undefined && this.can(u, 'parent', parent, level);
    } else ok = this.shared(u, o, r, level);
    // Editing a row needs seeing it: the select policies apply to edits too (as in PostgreSQL).
    return ok && this.rls(u, o, r);
  }

  visible(u: User, o: ObjectName): Rec[] {
    return this.w.records[o].filter((r) => this.can(u, o, r, 'read'));
  }

  /**
   * A computed field's value for this reader (computed.ts): roll-ups over the children the reader can
   * read (sum and count of none 0, max of none NULL, nulls ignored), a lookup's field NULL when the reader
   * cannot read the record it names, arithmetic NULL when an operand is.
   */
  value(u: User, o: ObjectName, r: Rec, field: string): number | null {
    const kids = (c: 'child' | 'detail', p: Rec) => this.visible(u, c).filter((x) => x.parent === p.id);
    const amounts = (rs: Rec[]) => rs.flatMap((x) => (x.amount === null ? [] : [x.amount]));
    const parent = () => {
      const p = this.w.records.parent.find((x) => x.id === r.parent);
      return p && this.can(u, 'parent', p, 'read') ? p : null;
    };
    switch (`${o}.${field}`) {
      case 'parent.child_total': return amounts(kids('child', r)).reduce((s, a) => s + a, 0);
      case 'parent.child_count': return kids('child', r).length;
      case 'parent.big_children': return kids('child', r).filter((x) => x.amount !== null && x.amount >= 50).length;
      case 'parent.detail_max': {
        const xs = amounts(kids('detail', r));
        return xs.length ? Math.max(...xs) : null;
      }
      case 'child.doubled': return r.amount === null ? null : r.amount * 2;
      case 'child.parent_amount': return parent()?.amount ?? null;
      case 'child.parent_total': {
        const p = parent();
        return p ? this.value(u, 'parent', p, 'child_total') : null;
      }
      default: throw new Error(`oracle: ${o}.${field} is not a computed field`);
    }
  }
}
