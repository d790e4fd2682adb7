import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '@objectos/db';
import { engines } from '@objectos/testkit';
import { API_KEY_HEADER } from '@objectos/principal';
import { startSecureStack, type SecureStack } from './secure-stack.ts';

/**
 * Class "API keys": better-auth's own per-key limit (10 uses a day by default) is off; the gateway's
 * rate limit, which keys its budgets per API key, is the only one (protection/use-rate-limit.ts).
 */
describe.each(engines())('API keys on $name', (engine) => {
  let s: SecureStack;
  let orgId: string;
  let owner: { headers: Record<string, string> };
  beforeAll(async () => {
    // No principal cache: every request verifies the key with better-auth, as a cache miss would.
    s = await startSecureStack(engine, { cacheTtlMs: 0 });
    owner = await s.user('keys@tenant.test', 'Key Org');
    orgId = (await queryRows<{ id: string }>(s.identity.database.db, sql`select id from auth.organization where name = 'Key Org'`))[0]!.id;
  });
  afterAll(() => s?.close());

  const newKey = async (name: string) => {
    const r = await s.auth('/api-key/create', { name, metadata: { organizationId: orgId } }, owner.headers);
    expect(r.status).toBe(200);
    return (await r.json()) as { id: string; key: string };
  };
  const use = async (key: string, times: number) => {
    const codes: unknown[] = [];
    for (let i = 0; i < times; i++) {
      const r = await s.q({ [API_KEY_HEADER]: key }, '{ accounts { totalCount } }');
      codes.push(r.errors?.[0]?.extensions?.['code'] ?? 'ok');
    }
    return codes;
  };

  it('one key used 30 times in a row keeps working', async () => {
    const { key, id } = await newKey('busy integration');
    expect(await use(key, 30)).toEqual(Array(30).fill('ok'));
    const rows = await queryRows<{ rate_limit_enabled: boolean }>(s.identity.database.db, sql`select rate_limit_enabled from auth.apikey where id = ${id}`);
    expect(rows).toEqual([{ rate_limit_enabled: false }]);
  });

  it('a key created before the fix, still carrying better-auth’s 10-a-day limit, keeps working too', async () => {
    const { key, id } = await newKey('older integration');
    await s.identity.database.db.execute(
      sql`update auth.apikey set rate_limit_enabled = true, rate_limit_max = 10, rate_limit_time_window = 86400000 where id = ${id}`,
    );
    expect(await use(key, 25)).toEqual(Array(25).fill('ok'));
  });
});
