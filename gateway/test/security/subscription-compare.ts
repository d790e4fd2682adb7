import type { ChangeEvent } from '@objectos/events';
import type { Oracle } from './oracle.ts';
import { describeUser, fieldKey, FIELDS, type Ev, type Payload, type Sub, type Tally } from './subscription-model.ts';

/**
 * Every delivery against the verdicts: leaks (events or fields the subscriber cannot read), wrong
 * payloads, order, duplicates and wrong omissions. Returns how many events were delivered.
 */
export function compareDeliveries(
  n: number, accepted: Sub[], events: Ev[], published: ChangeEvent[], oracle: Oracle, tally: Tally, problems: string[],
): number {
  const kOf = new Map(published.map((p, k) => [p.id, k]));
  let delivered = 0;
  for (const s of accepted) {
    const who = `world ${n}: ${s.path} ${s.object}Changed(${JSON.stringify({ where: s.where, id: s.id, ops: [...s.ops] })}) as ${describeUser(s.u)}`;
    const readable = (f: string) => oracle.fieldReadable(s.u, s.object, fieldKey(f));
    const got = new Set<number>();
    let lastK = -1;
    // A delivery of its own event (an event this subscriber was to be told of, about this record).
    const own = (p: Payload) => {
      const k = kOf.get(p.eventId);
      return k !== undefined && Boolean(s.verdicts.get(k)?.deliver) && published[k]!.recordId === p.recordId;
    };
    const accessFrom = accessLeftFrom(s, own);
    const toldLeft = new Set<string>();
    for (const [i, r] of s.stream.results.entries()) {
      if (i >= accessFrom && !r.errors?.length) {
        // Told after its access changed: a record that left its view, its id only.
        const p = r.data?.['c'] as Payload;
        const at = `${who}: LEFT of the access change for ${p.recordId}`;
        if (p.record !== null || p.previous !== null || p.changedFields.length > 0) (problems.push(`${at}: LEAK: carries values ${JSON.stringify(p)}`), tally.leaks++);
        else if (!s.accessLeft!.has(p.recordId)) (problems.push(`${at}: not a record that left its view`), tally.wrong++);
        else if (toldLeft.has(p.recordId)) (problems.push(`${at}: told twice`), tally.wrong++);
        else tally.accessLeft++;
        toldLeft.add(p.recordId);
        continue;
      }
      if (r.errors?.length) {
        // The one expected error: the end of a gateway stream whose subscriber's access changed, last.
        const end = s.endedAt !== null && i === s.stream.results.length - 1 && r.errors.every((e) => e.extensions?.['code'] === 'FORBIDDEN');
        if (end) tally.ended++;
        else (problems.push(`${who}: error ${JSON.stringify(r.errors)}`), tally.wrong++);
        continue;
      }
      const p = r.data?.['c'] as Payload | undefined;
      if (!p) continue;
      delivered++;
      const k = kOf.get(p.eventId);
      const e = k === undefined ? undefined : events[k];
      if (k === undefined || !e) {
        problems.push(`${who}: LEAK of an event of another world/organization: ${JSON.stringify(p)}`);
        tally.leaks++;
        continue;
      }
      if (got.has(k)) {
        problems.push(`${who}: event ${k} delivered twice`);
        tally.wrong++;
      }
      if (k < lastK) {
        problems.push(`${who}: event ${k} after event ${lastK}`);
        tally.wrong++;
      }
      got.add(k);
      lastK = Math.max(lastK, k);
      const v = s.verdicts.get(k)!;
      const at = `${who}, event ${k} (${e.op} ${e.object} ${e.recordId})`;
      if (s.endedAt !== null && k >= s.endedAt) {
        problems.push(`${at}: LEAK: delivered after the subscriber's access changed (from event ${s.endedAt} on): ${JSON.stringify(p)}`);
        tally.afterChange++;
        tally.leaks++;
        continue;
      }
      // Hidden fields, whatever else is right or wrong with the delivery.
      for (const [part, row] of [['record', p.record], ['previous', p.previous]] as const) {
        for (const f of FIELDS[s.object]) {
          if (row && row[f] !== undefined && row[f] !== null && !readable(f)) {
            problems.push(`${at}: LEAK of hidden field ${part}.${f} = ${JSON.stringify(row[f])}`);
            tally.hiddenFields++;
          }
        }
      }
      for (const f of p.changedFields) if (!readable(f)) (problems.push(`${at}: LEAK of hidden field name ${f} in changedFields`), tally.hiddenFields++);
      if (p.previous !== null && !v.wasVisible) {
        problems.push(`${at}: LEAK of the previous state, which the subscriber could not read: ${JSON.stringify(p.previous)}`);
        tally.leaks++;
      }
      if (!v.deliver) {
        const invisible = !v.sameOrg || (e.op === 'DELETED' ? !v.wasVisible : !v.nowVisible);
        problems.push(`${at}: ${invisible ? 'LEAK: delivered an event about a record the subscriber cannot read' : 'delivered an event outside its filters'}: ${JSON.stringify(p)} (${JSON.stringify(v)}); before ${JSON.stringify(e.before)}, after ${JSON.stringify(e.after)}`);
        if (invisible) tally.leaks++;
        else tally.wrong++;
        continue;
      }
      const norm = (x: Omit<Payload, 'eventId' | 'at' | 'recordId'>) => ({ op: x.op, record: x.record, previous: x.previous, changedFields: [...x.changedFields].sort() });
      if (JSON.stringify(norm(p)) !== JSON.stringify(norm(v.expected!)) || p.at !== published[k]!.at) {
        problems.push(`${at}: wrong payload\n  got      ${JSON.stringify(norm(p))} at ${p.at}\n  expected ${JSON.stringify(norm(v.expected!))} at ${published[k]!.at}`);
        tally.wrong++;
      }
    }
    if (s.endedAt !== null && !s.stream.results.at(-1)?.errors?.length) {
      problems.push(`${who}: still delivering after the access change: the stream did not end with FORBIDDEN`);
      tally.wrong++;
    }
    for (const id of s.accessLeft ?? []) {
      if (!toldLeft.has(id)) (problems.push(`${who}: WRONG OMISSION of the LEFT of ${id}, which its access change took out of its view`), tally.omissions++);
    }
    for (const [k, v] of s.verdicts) {
      if (v.deliver && !got.has(k)) {
        const e = events[k]!;
        problems.push(`${who}: WRONG OMISSION of event ${k} (${e.op} ${e.object} ${e.recordId}): expected ${JSON.stringify(v.expected)}; before ${JSON.stringify(e.before)}, after ${JSON.stringify(e.after)}`);
        tally.omissions++;
      }
    }
  }
  return delivered;
}

/**
 * Where a stream's LEFT events of its access change begin (its length when it has none): the last run of
 * LEFT payloads before its final FORBIDDEN that all carry the eventId of the payload before them (the
 * last event it was given; any one id when it was given none). A share's or an update's LEFT carries its
 * own event's id (`own`), so it is never taken for one.
 */
function accessLeftFrom(s: Sub, own: (p: Payload) => boolean): number {
  const results = s.stream.results;
  let end = results.length;
  if (end > 0 && results[end - 1]!.errors?.length) end--;
  if (!s.accessLeft) return results.length;
  const payload = (i: number) => results[i]?.data?.['c'] as Payload | undefined;
  let start = end;
  while (start > 0 && payload(start - 1)?.op === 'LEFT') start--;
  for (let x = start; x < end; x++) {
    if (x === 0 && own(payload(0)!)) continue;
    const anchor = x > 0 ? payload(x - 1)!.eventId : payload(x)!.eventId;
    let all = true;
    for (let i = x; i < end; i++) all &&= payload(i)!.eventId === anchor;
    if (all) return x;
  }
  return end;
}
