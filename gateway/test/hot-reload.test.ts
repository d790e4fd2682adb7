import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from 'vitest';
import WebSocket from 'ws';
import { queryRows } from '@objectos/db';
import { MigrationError } from '@objectos/data-subgraph';
import { loadMetadata, MetadataError } from '@objectos/metadata';
import { services } from '@objectos/testkit';
import { readConfig } from '../src/config.ts';
import type { HotReload, ReloadOutcome } from '../src/dev/hot-reload.ts';
import { needsRestart } from '../src/dev/reload-summary.ts';
import { startRulesApp, until, type RulesApp, type RulesEngine } from './rules-app.ts';

const TASK = 'objects/task.object.yaml';
/** A field added to the task object (after `fields:`), as a developer would type it. */
const withField = (name: string, type = 'text') => (text: string) => text.replace('fields:\n', `fields:\n  ${name}:\n    type: ${type}\n    maxLength: 200\n`);
const without = (name: string) => (text: string) => text.replace(`  ${name}:\n    type: text\n    maxLength: 200\n`, '');

/**
 * Hot reload (OBJECTOS_WATCH, development) through a running ObjectOS (`npm start`'s path) on its own
 * copy of the demo metadata: an edited file is loaded, compiled, migrated and served without a restart
 * or a dropped request; a broken edit keeps the last good metadata serving and prints its located error;
 * open subscriptions stay on the schema they started on until they end, unless the access rules changed:
 * then they are told what left their view and end.
 */
const variants: RulesEngine[] = ['pglite', ...(services.postgres ? ['postgres' as const] : [])];
for (const engine of variants) {
  describe(`hot reload (${engine})`, () => {
    let rig: RulesApp;
    let hot: HotReload;
    let errors: MockInstance<typeof console.error>;
    let logs: MockInstance<typeof console.log>;
    const clients: Client[] = [];
    const q = <T = Record<string, unknown>>(query: string, variables: Record<string, unknown> = {}) => rig.q<T>(query, variables);
    const nextReload = () => new Promise<ReloadOutcome>((resolve) => {
      const off = hot.onReload((o) => {
        off();
        resolve(o);
      });
    });
    /**
     * Edits (or creates) a metadata file as an editor saves it: in place, or (`replace`) as a new file renamed
     * over the old one, as `sed -i` and "safe write" editors do. Resolves with the reload the watcher ran.
     */
    const edit = async (file: string, change: (text: string) => string, how: 'in place' | 'replace' = 'in place'): Promise<ReloadOutcome> => {
      const reloaded = nextReload();
      const path = join(rig.metadata, file);
      const text = change(await readFile(path, 'utf8').catch(() => ''));
      if (how === 'in place') await writeFile(path, text);
      else {
        await writeFile(`${path}.saving`, text);
        await rename(`${path}.saving`, path);
      }
      return reloaded;
    };
    const task = async (id: string, fields = 'subject') => (await q<{ task: Record<string, unknown> }>(`query($id: ID!) { task(id: $id) { ${fields} } }`, { id })).task;
    const columns = async (object: string) => {
      const data = rig.app.data!;
      const table = data.source.plan.objects[object]!.table;
      return (await queryRows<{ column_name: string }>(data.database.db, sql`select column_name from information_schema.columns where table_schema = current_schema() and table_name = ${table}`)).map((r) => r.column_name);
    };
    const ws = () => {
      const client = createClient({
        url: `${rig.base.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${rig.owner}` }, retryAttempts: 0, lazy: true,
      });
      clients.push(client);
      return client;
    };

    beforeAll(async () => {
      errors = vi.spyOn(console, 'error').mockImplementation(() => {});
      logs = vi.spyOn(console, 'log').mockImplementation(() => {});
      // A short subgraph timeout: the grace after which replaced instances without subscriptions close.
      rig = await startRulesApp({ engine, slug: `hot-${engine}`, env: { OBJECTOS_WATCH: 'true', OBJECTOS_SUBGRAPH_TIMEOUT_MS: '3000' } });
      hot = rig.app.hotReload!;
    }, 120_000);
    afterAll(async () => {
      await Promise.all(clients.map((c) => c.dispose()));
      await rig?.close();
      errors.mockRestore();
      logs.mockRestore();
    });

    it('is on: the start registered the reload', () => {
      expect(hot).toBeTruthy();
      expect(hot.retired()).toBe(0);
    });

    it('adding a field: after the reload it is queryable and writable, its column exists, existing data intact', async () => {
      const { createTask } = await q<{ createTask: { id: string } }>('mutation { createTask(input: { subject: "Before the edit", priority: high }) { id } }');
      await expect(task(createTask.id, 'subject hotNote')).rejects.toThrow(/hotNote/);

      const outcome = await edit(TASK, withField('hot_note'));
      expect(outcome.result, outcome.message).toBe('served');
      expect(outcome.message).toMatch(/^metadata reloaded in \d+ ms \([0-9a-f]{12}…\): ~task; database migrated: 1 column added$/);
      expect(logs.mock.calls.some((c) => c[0] === outcome.message)).toBe(true);

      expect(await columns('task')).toContain('hot_note');
      expect(await task(createTask.id, 'subject priority hotNote')).toEqual({ subject: 'Before the edit', priority: 'high', hotNote: null });
      await q('mutation($id: ID!) { updateTask(id: $id, input: { hotNote: "written after the reload" }) { id } }', { id: createTask.id });
      expect(await task(createTask.id, 'hotNote')).toEqual({ hotNote: 'written after the reload' });
      const made = await q<{ createTask: { hotNote: string } }>('mutation { createTask(input: { subject: "New", hotNote: "at once" }) { hotNote } }');
      expect(made.createTask.hotNote).toBe('at once');
    });

    it('adding an object file (and its permissions, saved together): its root fields appear', async () => {
      await expect(q('{ hotMemos { totalCount } }')).rejects.toThrow(/hotMemos/);
      const reloaded = nextReload();
      await writeFile(join(rig.metadata, 'objects/hot_memo.object.yaml'), 'name: hot_memo\nlabel: Hot Memo\nfields:\n  title:\n    type: text\n    required: true\n    maxLength: 100\n');
      const admin = join(rig.metadata, 'security/system_administrator.permission.yaml');
      await writeFile(admin, (await readFile(admin, 'utf8')).replace('objects:\n', 'objects:\n  hot_memo: { allowRead: true, allowCreate: true, allowEdit: true, allowDelete: true }\n'));
      // Both files make one reload (the watcher waits for the edits to settle).
      const outcome = await reloaded;
      expect(outcome.result, outcome.message).toBe('served');
      expect(outcome.message).toMatch(/: \+hot_memo; security changed; database migrated: 1 table created$/);
      await q('mutation { createHotMemo(input: { title: "first memo" }) { id } }');
      expect(await q('{ hotMemos { totalCount nodes { title } } }')).toEqual({ hotMemos: { totalCount: 1, nodes: [{ title: 'first memo' }] } });
    });

    it('a broken edit keeps the last good schema serving and prints the located error; a later good edit is applied', async () => {
      const text = await readFile(join(rig.metadata, TASK), 'utf8');
      const fieldsLine = text.split('\n').indexOf('fields:') + 1;

      // Saved as editors that write a new file and rename it over the old one do, several times in a row.
      const badYaml = await edit(TASK, (t) => t.replace('fields:\n', 'fields:\n  hot_broken: [unclosed\n'), 'replace');
      expect(badYaml.result).toBe('refused');
      expect(badYaml.error).toBeInstanceOf(MetadataError);
      expect(badYaml.message).toMatch(/^metadata reload refused \(invalid metadata\); still serving [0-9a-f]{12}…, nothing changed:\nInvalid metadata/);
      expect(badYaml.message).toMatch(/task\.object\.yaml:\d+:\d+ /);
      expect(errors.mock.calls.some((c) => c[0] === badYaml.message)).toBe(true);
      expect((await q<{ tasks: { totalCount: number } }>('{ tasks { totalCount } }')).tasks.totalCount).toBe(2);

      expect((await edit(TASK, () => text, 'replace')).result).toBe('unchanged');
      const badType = await edit(TASK, withField('hot_bogus', 'bogus'), 'replace');
      expect(badType.result).toBe('refused');
      expect(badType.error).toBeInstanceOf(MetadataError);
      // The file and the line of the bad type (the field's own line follows `fields:`).
      const line = Number(/task\.object\.yaml:(\d+):\d+ fields\.hot_bogus/.exec(badType.message)?.[1]);
      expect([fieldsLine + 1, fieldsLine + 2]).toContain(line);
      expect(badType.message).toMatch(/bogus/);
      expect(await columns('task')).not.toContain('hot_bogus');
      const { tasks } = await q<{ tasks: { nodes: { hotNote: string | null }[] } }>('{ tasks { nodes { hotNote } } }');
      expect(tasks.nodes.map((n) => n.hotNote).sort()).toEqual(['at once', 'written after the reload']);

      const fixed = await edit(TASK, (t) => t.replace('hot_bogus:\n    type: bogus', 'hot_fixed:\n    type: text'), 'replace');
      expect(fixed.result, fixed.message).toBe('served');
      expect(await columns('task')).toContain('hot_fixed');
      expect(await q('{ tasks(first: 1) { nodes { hotFixed } } }')).toBeTruthy();
    });

    it('a destructive edit (removing a field with data) is refused, naming it; the old schema keeps serving', async () => {
      const served = await readFile(join(rig.metadata, TASK), 'utf8');
      const outcome = await edit(TASK, without('hot_note'));
      expect(outcome.result).toBe('refused');
      expect(outcome.error).toBeInstanceOf(MigrationError);
      expect(outcome.message).toMatch(/metadata reload refused \(the migration would lose data\); still serving [0-9a-f]{12}…, nothing changed/);
      expect(outcome.message).toMatch(/task: column "[a-z_]*task\.hot_note" is no longer in the metadata/);
      expect(await columns('task')).toContain('hot_note');
      expect((await q<{ tasks: { nodes: { hotNote: string | null }[] } }>('{ tasks { nodes { hotNote } } }')).tasks.nodes.some((n) => n.hotNote === 'at once')).toBe(true);
      // Put back as it was: the files say what is served already.
      const back = await edit(TASK, () => served);
      expect(back.result, back.message).toBe('unchanged');
    });

    it('drops no request: 20 clients querying through the swap all get HTTP 200 with data', async () => {
      const queries = ['{ tasks(first: 3) { nodes { id subject hotNote } } }', '{ me { email } tasks(first: 2) { totalCount } }'];
      let running = true;
      const results: { status: number; errors: unknown; data: unknown }[] = [];
      const client = async (n: number) => {
        while (running) {
          const r = await fetch(`${rig.base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${rig.owner}` }, body: JSON.stringify({ query: queries[n % 2] }) });
          const body = (await r.json()) as { data?: unknown; errors?: unknown };
          results.push({ status: r.status, errors: body.errors, data: body.data });
        }
      };
      const streams = Array.from({ length: 20 }, (_, n) => client(n));
      await until(async () => results.length, (n) => n >= 40);
      const before = results.length;
      const outcome = await edit(TASK, withField('hot_load'));
      const during = results.length - before;
      await until(async () => results.length, (n) => n >= before + during + 40);
      running = false;
      await Promise.all(streams);
      expect(outcome.result, outcome.message).toBe('served');
      expect(during).toBeGreaterThan(0);
      expect(results.filter((r) => r.status !== 200 || r.errors || !r.data)).toEqual([]);
      expect(await q('{ tasks(first: 1) { nodes { hotLoad } } }')).toBeTruthy();
    });

    it('an open subscription keeps streaming on the schema it started on until it ends; the replaced instance is closed then', async () => {
      await until(async () => hot.retired(), (n) => n === 0, 15_000);
      const events: { taskChanged: { op: string; record: Record<string, unknown> } }[] = [];
      const old = ws().subscribe<(typeof events)[number]>({ query: 'subscription { taskChanged { op record { subject hotLoad } } }' }, {
        next: (r) => void (r.data && events.push(r.data)), error: () => {}, complete: () => {},
      });
      await until(async () => rig.app.data!.hub.size(), (n) => n === 1);

      const outcome = await edit(TASK, withField('hot_live'));
      expect(outcome.result, outcome.message).toBe('served');
      await q('mutation { createTask(input: { subject: "streamed to the old schema", hotLoad: "x" }) { id } }');
      await until(async () => events.length, (n) => n === 1);
      expect(events[0]!.taskChanged).toEqual({ op: 'CREATED', record: { subject: 'streamed to the old schema', hotLoad: 'x' } });

      // New subscriptions see the new schema.
      const fresh: unknown[] = [];
      const current = ws().subscribe({ query: 'subscription { taskChanged { record { hotLive } } }' }, { next: (r) => void fresh.push(r.data), error: () => {}, complete: () => {} });
      await until(async () => rig.app.data!.hub.size(), (n) => n === 1);
      await q('mutation { createTask(input: { subject: "streamed to both", hotLive: "y" }) { id } }');
      await until(async () => fresh.length + events.length, (n) => n === 3);
      expect(fresh).toEqual([{ taskChanged: { record: { hotLive: 'y' } } }]);
      expect(events).toHaveLength(2);

      // Past the grace, only the data instance with the open subscription is left; it closes once that ends.
      await new Promise((r) => setTimeout(r, 3_500));
      expect(hot.retired()).toBe(1);
      old();
      await until(async () => hot.retired(), (n) => n === 0, 10_000);
      expect(hot.retired()).toBe(0);
      current();
    });

    it('an edit of the access rules: live subscriptions are told what left their view under the new rules (LEFT), then end; reads follow the new rules', async () => {
      await until(async () => hot.retired(), (n) => n === 0, 15_000);
      const made = await q<{ a: { id: string }; b: { id: string } }>('mutation { a: createTask(input: { subject: "hot kept" }) { id } b: createTask(input: { subject: "hot hidden" }) { id } }');
      await rig.app.data!.relay.drain();
      const events: { op: string; recordId: string; eventId: string }[] = [];
      const errors: string[] = [];
      let completed = false;
      const stop = ws().subscribe<{ taskChanged: { op: string; recordId: string; eventId: string } }>({ query: 'subscription { taskChanged { op recordId eventId } }' }, {
        next: (r) => {
          if (r.data) events.push(r.data.taskChanged);
          for (const e of r.errors ?? []) errors.push(`${e.extensions?.['code']}: ${e.message}`);
        },
        error: (e) => void errors.push(String((e as Error).message ?? e)), complete: () => void (completed = true),
      });
      await until(async () => rig.app.data!.hub.size(), (n) => n === 1);

      const epochs = async () => Number((await queryRows<{ n: string }>(rig.app.data!.database.db, sql`select count(*)::text as n from events.rule_epochs`))[0]!.n);
      const before = await epochs();
      const rls = join(rig.metadata, 'security/hot_hidden.rls.yaml');
      const reloaded = nextReload();
      await writeFile(rls, 'name: hot_hidden\nlabel: Hot hidden tasks\nobject: task\noperation: select\nusing: "subject <> \'hot hidden\'"\n');
      const outcome = await reloaded;
      expect(outcome.result, outcome.message).toBe('served');
      expect(outcome.message).toMatch(/the access rules changed: 1 live subscription\(s\) were told what left their view and ended/);
      // The new rules are on record as served (a resume from before is judged by the old ones).
      expect(await epochs()).toBe(before + 1);
      await until(async () => completed || errors.length > 0, Boolean, 10_000);
      expect(events).toEqual([{ op: 'LEFT', recordId: made.b.id, eventId: expect.any(String) }]);
      expect(errors).toEqual([expect.stringMatching(/^CONFLICT: The sharing and access rules this subscription ran under were replaced/)]);
      // The new rules serve: the hidden task is gone from reads.
      expect((await q<{ task: unknown }>('query($id: ID!) { task(id: $id) { subject } }', { id: made.b.id })).task).toBeNull();
      stop();

      // Resuming from the LEFT's eventId, as the error says: not told the same LEFT again; what it may read goes on.
      const resumed: { op: string; recordId: string }[] = [];
      const stopResumed = ws().subscribe<{ taskChanged: { op: string; recordId: string } }>({ query: 'subscription($after: ID) { taskChanged(after: $after) { op recordId } }', variables: { after: events[0]!.eventId } }, {
        next: (r) => {
          if (r.data) resumed.push(r.data.taskChanged);
          for (const e of r.errors ?? []) errors.push(`${e.extensions?.['code']}: ${e.message}`);
        },
        error: (e) => void errors.push(String((e as Error).message ?? e)), complete: () => {},
      });
      await until(async () => rig.app.data!.hub.size(), (n) => n === 1);
      await q('mutation($id: ID!) { updateTask(id: $id, input: { subject: "hot kept 2" }) { id } }', { id: made.a.id });
      await until(async () => resumed.length, (n) => n >= 1, 10_000);
      await new Promise((r) => setTimeout(r, 300));
      expect(resumed).toEqual([{ op: 'UPDATED', recordId: made.a.id }]);
      expect(errors).toHaveLength(1);
      stopResumed();

      const back = nextReload();
      await rm(rls);
      expect((await back).result).toBe('served');
    });

    it('the identity subgraph stays and accepts the names the edited security metadata declares', async () => {
      const { me } = await q<{ me: { id: string } }>('{ me { id } }');
      const assign = () => q<{ setMemberAccess: { role: string } }>('mutation($u: ID!) { setMemberAccess(input: { userId: $u, role: "hot_role", permissionSets: [], groups: [] }) { role } }', { u: me.id });
      await expect(assign()).rejects.toThrow(/unknown role \\"hot_role\\"/);
      // In a new folder: it is watched from its creation on.
      const reloaded = nextReload();
      await mkdir(join(rig.metadata, 'security/more'));
      await writeFile(join(rig.metadata, 'security/more/hot_role.role.yaml'), 'name: hot_role\nlabel: Hot Role\n');
      const outcome = await reloaded;
      expect(outcome.result, outcome.message).toBe('served');
      expect(outcome.message).toMatch(/: no object changed; security changed$/);
      expect((await assign()).setMemberAccess.role).toBe('hot_role');
      const renamed = await edit('security/more/hot_role.role.yaml', (t) => t.replace('label: Hot Role', 'label: Hotter Role'));
      expect(renamed.result, renamed.message).toBe('served');
    });

    it('says what the job runtime keeps until the next start (rules), and refuses what only a restart can add', async () => {
      const rule = await edit('automation/opportunity_won.rule.yaml', (t) => t.replace('label: Follow up a won opportunity', 'label: Follow up a won deal'));
      expect(rule.result, rule.message).toBe('served');
      expect(rule.message).toMatch(/: no object changed\n {2}workflow rules changed: the job runtime and sign-in keep what they started with until the next start$/);
      // Another flow: served (startFlow lists it), while the flow runtime on the queue runs the ones it started with.
      const flow = await readFile(join(rig.metadata, 'workflows/account_follow_up.flow.yaml'), 'utf8');
      const copy = await edit('workflows/hot_copy.flow.yaml', () => flow.replace(/^name: .*$/m, 'name: hot_copy_flow'));
      expect(copy.result, copy.message).toBe('served');
      expect(copy.message).toMatch(/\n {2}flows changed: the job runtime/);
      // Sign-in reads the SSO mappings once too.
      const sso = await edit('security/hot_sso.sso.yaml', () => 'name: hot_sso\nproviderId: hot-idp\norganization: hot-org\nmappings:\n  - { value: admins, organizationRole: admin }\n');
      expect(sso.result, sso.message).toBe('served');
      expect(sso.message).toMatch(/security changed\n {2}SSO mappings changed: the job runtime and sign-in keep what they started with until the next start/);
      const gone = nextReload();
      await rm(join(rig.metadata, 'security/hot_sso.sso.yaml'));
      expect((await gone).result).toBe('served');

      // What registers on the job queue at start cannot be added by a reload: such an edit is refused.
      const started = await loadMetadata(rig.metadata);
      expect(needsRestart({ ...started, flows: [] }, started, true)).toMatch(/now has flows, and the flow runtime registers on the job queue at start/);
      expect(needsRestart({ ...started, approvals: [] }, started, true)).toMatch(/now has approval processes/);
      expect(needsRestart(started, started, false)).toMatch(/the workflow subgraph only starts with the process/);
      expect(needsRestart(started, started, true)).toBeNull();
    });
  });
}

describe('OBJECTOS_WATCH', () => {
  it('is on in development, off in production, where asking for it is refused', () => {
    expect(readConfig({}, []).watch).toBe(true);
    expect(readConfig({ OBJECTOS_WATCH: 'false' }, []).watch).toBe(false);
    expect(readConfig({ NODE_ENV: 'production', OBJECTOS_SECRET: 'x'.repeat(32) }, []).watch).toBe(false);
    expect(() => readConfig({ NODE_ENV: 'production', OBJECTOS_WATCH: 'true' }, [])).toThrow(/OBJECTOS_WATCH=true is for development: with NODE_ENV=production the metadata is loaded once at start/);
    expect(() => readConfig({ OBJECTOS_WATCH: 'yes' }, [])).toThrow(/OBJECTOS_WATCH must be one of true, false, got "yes"/);
  });
});
