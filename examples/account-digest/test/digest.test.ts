import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../../../gateway/src/config.ts';
import { startObjectOS, type RunningObjectOS } from '../../../gateway/src/start.ts';
import { freePort, REPO_ROOT } from '@objectos/testkit';
import { runDigest } from '../src/digest.ts';

/** The example app, run as a user would: against ObjectOS with the demo metadata on the embedded engine. */
describe('examples/account-digest: an app on the typed SDK', () => {
  let dir: string;
  let app: RunningObjectOS;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'objectos-digest-'));
    const port = await freePort();
    app = await startObjectOS(readConfig({
      PORT: String(port), OBJECTOS_PUBLIC_URL: `http://127.0.0.1:${port}`, OBJECTOS_DATA_DIR: join(dir, 'data'),
      OBJECTOS_SECRET_FILE: join(dir, 'secret'), OBJECTOS_METADATA: join(REPO_ROOT, 'metadata'),
    }, []));
  });
  afterAll(async () => {
    await app?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('signs in, pages through the accounts, creates one and sees its renames live', async () => {
    const demo = app.identity!.demo!;
    const digest = await runDigest({ url: app.url.replace('localhost', '127.0.0.1'), email: demo.email, password: demo.password!, newAccount: 'Digest Co' });
    expect(digest.user).toBe(demo.email);
    expect(digest.organization).toBe('Acme Corporation');
    // The demo seed: 40 accounts, read over two pages of 25.
    expect(digest.accounts).toBe(40);
    expect(digest.largest).toHaveLength(3);
    expect(digest.largest[0]!.annualRevenue).toBeGreaterThanOrEqual(digest.largest[1]!.annualRevenue ?? 0);
    expect(digest.created.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(digest.events).toEqual([
      { op: 'UPDATED', name: 'Digest Co (renamed)', previous: 'Digest Co' },
      { op: 'UPDATED', name: 'Digest Co (renamed twice)', previous: 'Digest Co (renamed)' },
    ]);
  });
});
