import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANONYMOUS } from '@objectos/principal';
import { engines, freePort, services, testAuth, testPrincipal } from '@objectos/testkit';
import { createGateway, type Gateway } from '../src/index.ts';
import { ipKey } from '../src/protection/client-ip.ts';
import type { RateLimitOptions } from '../src/protection/use-rate-limit.ts';
import { startStack, type Stack } from './stack.ts';

/** A request as the node adapter hands it over: with the peer's address. */
const from = (gateway: Gateway, address: string, headers: Record<string, string> = {}) =>
  gateway.fetch(
    new Request('http://objectos.test/graphql', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query: '{ accounts { totalCount } }' }) }),
    { req: { socket: { remoteAddress: address } } },
  );

describe('client addresses', () => {
  it('groups IPv6 by /64 and unwraps IPv4-mapped addresses', () => {
    expect(ipKey('2001:db8:1:2:aaaa::1')).toBe(ipKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'));
    expect(ipKey('2001:db8:1:2::1')).not.toBe(ipKey('2001:db8:1:3::1'));
    expect(ipKey('::ffff:10.0.0.7')).toBe('ip:10.0.0.7');
    expect(ipKey('10.0.0.7')).toBe('ip:10.0.0.7');
    expect(ipKey(undefined)).toBe('ip:unknown');
  });
});

describe('rate limits', () => {
  let s: Stack;
  const gateways: Gateway[] = [];
  // Anonymous clients (guest access on) are budgeted by IP; signed-in ones by user or API key.
  const anonymous = { ...testAuth(ANONYMOUS), allowAnonymous: true };
  const make = async (rateLimit: RateLimitOptions, auth: Parameters<typeof createGateway>[0]['auth'] = anonymous) => {
    const g = await createGateway({ auth, subgraphs: [{ name: 'data', url: 'http://data.test/graphql', sdl: s.data.sdl, fetch: s.data.fetch }], protection: { rateLimit } });
    gateways.push(g);
    return g;
  };
  beforeAll(async () => {
    s = await startStack(engines()[0]!);
  });
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.dispose()));
    await s?.close();
  });

  it('refuses the request over budget with 429 and Retry-After, per client, before any SQL', async () => {
    const g = await make({ points: 3, durationSeconds: 30 });
    for (let i = 0; i < 3; i++) expect((await from(g, '203.0.113.5')).status).toBe(200);
    s.statements.length = 0;
    const refused = await from(g, '203.0.113.5');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(30);
    expect(((await refused.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('RATE_LIMITED');
    expect(s.statements).toEqual([]);
    expect((await from(g, '203.0.113.6')).status).toBe(200);
  });

  it('counts a whole IPv6 /64 as one client, and ignores X-Forwarded-For unless the proxy is trusted', async () => {
    const g = await make({ points: 2, durationSeconds: 30 });
    expect((await from(g, '2001:db8:5:6::1')).status).toBe(200);
    expect((await from(g, '2001:db8:5:6:ffff::9', { 'x-forwarded-for': '198.51.100.1' })).status).toBe(200);
    expect((await from(g, '2001:db8:5:6:1234::2')).status).toBe(429);
    const proxied = await make({ points: 1, durationSeconds: 30, trustProxy: true });
    expect((await from(proxied, '10.0.0.1', { 'x-forwarded-for': '198.51.100.1' })).status).toBe(200);
    expect((await from(proxied, '10.0.0.1', { 'x-forwarded-for': '198.51.100.2' })).status).toBe(200);
    expect((await from(proxied, '10.0.0.1', { 'x-forwarded-for': '198.51.100.1, 10.0.0.1' })).status).toBe(429);
  });

  it('budgets signed-in traffic per user and per API key, whatever the address', async () => {
    const alice = { ...testPrincipal(), userId: 'alice' };
    const bob = { ...testPrincipal(), userId: 'bob' };
    const key = { ...testPrincipal(), kind: 'api_key' as const, userId: 'alice', apiKeyId: 'key-1' };
    const byHeader = {
      ...testAuth(),
      resolve: async (c: { authorization?: string }) => ({ principal: c.authorization === 'Bearer bob' ? bob : c.authorization === 'Bearer key' ? key : alice }),
    };
    const g = await make({ points: 2, durationSeconds: 30 }, byHeader);
    const as = (who: string, address: string) => from(g, address, { authorization: `Bearer ${who}` });
    expect((await as('alice', '203.0.113.20')).status).toBe(200);
    // A new address does not give alice a new budget.
    expect((await as('alice', '203.0.113.21')).status).toBe(200);
    expect((await as('alice', '203.0.113.22')).status).toBe(429);
    // Bob, from alice's address, and alice's API key have budgets of their own.
    expect((await as('bob', '203.0.113.20')).status).toBe(200);
    expect((await as('key', '203.0.113.20')).status).toBe(200);
    expect((await as('key', '203.0.113.20')).status).toBe(200);
    expect((await as('key', '203.0.113.20')).status).toBe(429);
  });

  it('refuses to start when the configured Redis cannot be reached, saying so', async () => {
    const port = await freePort();
    await expect(createGateway({ auth: testAuth(), subgraphs: [{ name: 'data', url: 'http://data.test/graphql', sdl: s.data.sdl, fetch: s.data.fetch }], protection: { rateLimit: { redisUrl: `redis://127.0.0.1:${port}` } } }))
      .rejects.toThrow(`rate limiting: Redis at redis://127.0.0.1:${port} did not answer within 5 s`);
  });

  describe.skipIf(!services.redis)('in Redis (services mode)', () => {
    const prefix = `objectos_test_rl_${process.pid}_${randomBytes(4).toString('hex')}`;
    afterAll(async () => {
      const redis = new Redis(services.redis!);
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    });

    it('shares one budget across gateway replicas', async () => {
      const options = { points: 3, durationSeconds: 30, redisUrl: services.redis!, keyPrefix: prefix };
      const [a, b] = [await make(options), await make(options)];
      expect((await from(a, '192.0.2.10')).status).toBe(200);
      expect((await from(b, '192.0.2.10')).status).toBe(200);
      expect((await from(a, '192.0.2.10')).status).toBe(200);
      const refused = await from(b, '192.0.2.10');
      expect(refused.status).toBe(429);
      const redis = new Redis(services.redis!);
      expect((await redis.keys(`${prefix}*`)).length).toBeGreaterThan(0);
      await redis.quit();
    });
  });
});
