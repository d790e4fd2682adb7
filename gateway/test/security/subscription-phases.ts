import { signedFetch, subscribeSse } from '@objectos/testkit';
import type { ChangeEvent } from '@objectos/events';
import { OBJECTS, type World } from './world.ts';
import type { ObjectName, Oracle } from './oracle.ts';
import { compareDeliveries } from './subscription-compare.ts';
import { describeUser, newTally, subscriptionOf, verdictOf, type Ev, type Sub, type SubSpec, type Tally } from './subscription-model.ts';
import { sleep, until, type Stream } from './subscription-plumbing.ts';
import type { WorldStack } from './world-stack.ts';

/** What the oracle's phases after the live run share: the world at its end and what was seen. */
interface Phase { n: number; stack: WorldStack; w: World; oracle: Oracle; rid: (id: string) => string; tally: Tally; problems: string[] }

/**
 * Replay (issue #20 point 2): each direct subscriber comes back with `after` = the world's first event of
 * its object, and must receive every later event it may read now (its access, shares and parents as they
 * are at the end: the replay checks against them), with the same masking, once each, in order.
 */
export async function replayPhase(x: Phase & { events: Ev[]; published: ChangeEvent[]; accepted: Sub[]; specs: SubSpec[]; expectedCount: (s: Sub) => number; seed: number | undefined }): Promise<void> {
  const { n, stack, w, oracle, rid, events, published, accepted, specs, tally, problems, expectedCount } = x;
  const replays: Sub[] = [];
  for (const s of accepted.filter((x) => x.path === 'direct')) {
    // The cursor: an event of its object in its organization (any other is refused).
    const k0 = events.findIndex((e) => e.object === s.object && e.org === s.u.org);
    if (k0 < 0) continue;
    const r: Sub = { ...s, u: w.users[s.user]!, stream: s.stream, verdicts: new Map(), endedAt: null };
    const scratch = newTally();
    const none = { passes: false, sameOrg: false, nowVisible: false, wasVisible: false, deliver: false, expected: null };
    for (const e of events) r.verdicts.set(e.k, e.k > k0 && e.object === s.object ? verdictOf(r, e, w, oracle, rid, scratch) : none);
    const { query, variables } = subscriptionOf(r, specs[s.ix]!, rid, published[k0]!.id);
    r.stream = await subscribeSse<Record<string, unknown>>(signedFetch(stack.data.fetch, stack.principal(r.u)), query, variables);
    replays.push(r);
  }
  const replayWant = replays.reduce((t, s) => t + expectedCount(s), 0);
  // Bounded; what is missing then is reported per event by the comparison.
  for (const end = Date.now() + 15_000; Date.now() < end && !replays.every((s) => s.stream.results.length >= expectedCount(s));) await sleep(20);
  await sleep(50);
  tally.replays += replays.length;
  const replayed = compareDeliveries(n, replays, events, published, oracle, tally, problems);
  tally.replayed += replayed;
  tally.deliveries += replayed;
  tally.expected += replayWant;
  if (problems.length > 0)
    throw new Error(`world ${n}: ${problems.length} disagreements with the oracle in replays (seed ${x.seed ?? 'random'}):\n${problems.slice(0, 12).join('\n')}`);
  for (const s of replays) s.stream.close();
  await until(() => stack.data.hub.size() === 0, 5_000, () => `world ${n}: ${stack.data.hub.size()} replaying subscriptions still live after their clients left`);

}

/**
 * Presence (issue #20 point 4): every user asks to view the first records of each object. It is allowed
 * exactly when the oracle lets them read the record (else refused), and each record's viewers, as its last
 * viewer to join is told them, are exactly the users allowed to view it.
 */
export async function presencePhase({ n, stack, w, oracle, rid, tally, problems }: Phase): Promise<void> {
  const viewing: { o: ObjectName; id: string; allowed: Set<string>; streams: Stream[] }[] = [];
  const presence: Stream[] = [];
  for (const o of OBJECTS) {
    for (const rec of w.records[o].slice(0, 3)) {
      const v = { o, id: rid(rec.id), allowed: new Set<string>(), streams: [] as Stream[] };
      for (const u of w.users) {
        const principal = stack.principal(u);
        const st = await subscribeSse<Record<string, unknown>>(signedFetch(stack.data.fetch, principal), 'subscription($o: String!, $id: ID!) { p: presence(object: $o, id: $id) { viewers { userId } } }', { o, id: v.id });
        presence.push(st);
        await until(() => st.results.length > 0 || st.completed, 5_000, () => `world ${n}: presence of ${o} ${rec.id} for ${u.id}: no answer`);
        const may = oracle.can(u, o, rec, 'read');
        const code = st.results[0]!.errors?.[0]?.extensions?.['code'];
        tally.presenceChecks++;
        if (may && code !== undefined) (problems.push(`world ${n}: presence of ${o} ${rec.id} refused (${code}) to ${describeUser(u)}, who may read it`), tally.omissions++);
        // Refused: "not found" (as a read of it), or FORBIDDEN without read on the object at all.
        if (!may && code !== 'NOT_FOUND' && code !== 'FORBIDDEN') (problems.push(`world ${n}: LEAK: presence of ${o} ${rec.id} given to ${describeUser(u)}, who may not read it: ${JSON.stringify(st.results[0])}`), tally.leaks++);
        if (may) (v.allowed.add(principal.userId!), v.streams.push(st));
      }
      viewing.push(v);
    }
  }
  const viewersOf = (st: Stream) => JSON.stringify(((st.results.at(-1)?.data?.['p'] as { viewers: { userId: string }[] } | undefined)?.viewers ?? []).map((x) => x.userId).sort());
  for (const v of viewing) {
    const last = v.streams.at(-1);
    if (!last) continue;
    const want = JSON.stringify([...v.allowed].sort());
    await until(() => viewersOf(last) === want, 5_000, () => `world ${n}: viewers of ${v.o} ${v.id}: ${viewersOf(last)}, expected ${want}`).catch(() => {});
    if (viewersOf(last) !== want) (problems.push(`world ${n}: viewers of ${v.o} ${v.id}: ${viewersOf(last)}, expected ${want}`), tally.wrong++);
    tally.presenceViewers += v.allowed.size;
  }
  if (problems.length > 0) throw new Error(`world ${n}: ${problems.length} disagreements with the oracle in presence:\n${problems.slice(0, 12).join('\n')}`);
  for (const st of presence) st.close();
  await until(() => stack.data.presence.size() === 0, 5_000, () => `world ${n}: ${stack.data.presence.size()} viewers still present after their clients left`);
}
