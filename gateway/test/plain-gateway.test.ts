import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { principalOfToken, useSubgraphToken, type SubgraphTokenVerifierOptions } from '@objectos/principal';
import { composeSupergraph } from '@objectos/schema';
import { gql, TEST_SECRET } from '@objectos/testkit';
import { createGateway, type Gateway } from '../src/index.ts';

/**
 * A team's subgraph on loopback whose schema can be replaced (a deploy) or which can stop answering
 * (a crash), at the same URL.
 */
interface TeamSubgraph {
  url: string;
  sdl: string;
  serve(sdl: string, resolvers: Record<string, unknown>, plugins?: Plugin[]): void;
  down(): void;
  close(): Promise<void>;
}

async function teamSubgraph(): Promise<TeamSubgraph> {
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  let sdl = '';
  const server: Server = createServer((req, res) => (handler ? handler(req, res) : req.socket.destroy()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    get sdl() {
      return sdl;
    },
    serve(next, resolvers, plugins = []) {
      sdl = next;
      const schema = buildSubgraphSchema([{ typeDefs: parse(next), resolvers: resolvers as never }]);
      handler = createYoga({ schema, landingPage: false, graphiql: false, plugins }) as unknown as typeof handler;
    },
    down() {
      handler = null;
    },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

const FED = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key", "@shareable"])';
const PRODUCTS_SDL = `${FED}
type Product @key(fields: "upc") { upc: ID! name: String! }
type Query { products: [Product!]! }`;
const PRODUCTS_V2_SDL = `${FED}
type Product @key(fields: "upc") { upc: ID! name: String! price: Int! }
type Query { products: [Product!]! }`;
const REVIEWS_SDL = `${FED}
type Product @key(fields: "upc") { upc: ID! reviews: [String!]! }`;
/** Claims Product.name without @shareable: cannot compose with products. */
const CONFLICTING_REVIEWS_SDL = `${FED}
type Product @key(fields: "upc") { upc: ID! name: String! reviews: [String!]! }`;

const catalogue = [{ upc: '1', name: 'Table', price: 120 }, { upc: '2', name: 'Chair', price: 40 }];
const productResolvers = {
  Query: { products: () => catalogue },
  Product: { __resolveReference: (r: { upc: string }) => catalogue.find((p) => p.upc === r.upc) },
};
const reviewResolvers = { Product: { __resolveReference: (r: { upc: string }) => r, reviews: (p: { upc: string }) => [`review of ${p.upc}`], name: () => 'x' } };
const NONE = { mode: 'none', secret: TEST_SECRET } as const;
/** Every behaviour holds whichever way operations across subgraphs run. */
const PLANNERS = ['stitching', 'rust'] as const;

describe.each(PLANNERS)('plain Federation gateway over a supergraph file (%s)', (queryPlanner) => {
  let products: TeamSubgraph;
  let reviews: TeamSubgraph;
  let dir: string;
  let gateway: Gateway;
  beforeAll(async () => {
    [products, reviews] = await Promise.all([teamSubgraph(), teamSubgraph()]);
    products.serve(PRODUCTS_SDL, productResolvers);
    reviews.serve(REVIEWS_SDL, reviewResolvers);
    dir = await mkdtemp(join(tmpdir(), 'objectos-supergraph-'));
    await writeFile(join(dir, 'supergraph.graphql'), composeSupergraph([{ name: 'products', url: products.url, sdl: PRODUCTS_SDL }, { name: 'reviews', url: reviews.url, sdl: REVIEWS_SDL }]));
    gateway = await createGateway({ supergraph: () => readFile(join(dir, 'supergraph.graphql'), 'utf8'), auth: NONE, pollMs: 0, queryPlanner });
  });
  afterAll(async () => {
    await gateway?.dispose();
    await Promise.all([products?.close(), reviews?.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('serves it with no ObjectOS subgraph and no authentication, across subgraphs', async () => {
    const r = await gql(gateway.fetch, '{ products { upc name reviews } }');
    expect(r).toEqual({ data: { products: [{ upc: '1', name: 'Table', reviews: ['review of 1'] }, { upc: '2', name: 'Chair', reviews: ['review of 2'] }] } });
    expect(gateway.health()).toMatchObject({ status: 'healthy', supergraph: { source: 'given' }, subgraphs: [{ name: 'products', state: 'listed' }, { name: 'reviews', state: 'listed' }] });
    const health = await (await gateway.fetch(new Request('http://gw.test/health'))).json();
    expect(JSON.stringify(health)).not.toContain('127.0.0.1');
  });

  it('serves a changed file once polled, and keeps the last good supergraph when the file is broken', async () => {
    products.serve(PRODUCTS_V2_SDL, productResolvers);
    await writeFile(join(dir, 'supergraph.graphql'), composeSupergraph([{ name: 'products', url: products.url, sdl: PRODUCTS_V2_SDL }, { name: 'reviews', url: reviews.url, sdl: REVIEWS_SDL }]));
    expect(await gateway.refresh()).toBe(true);
    expect(await gql(gateway.fetch, '{ products { price } }')).toEqual({ data: { products: [{ price: 120 }, { price: 40 }] } });
    await writeFile(join(dir, 'supergraph.graphql'), 'schema { query: Query } type Query {');
    expect(await gateway.refresh()).toBe(false);
    expect(gateway.health().lastFailure).not.toBeNull();
    expect(gateway.health().status).toBe('degraded');
    expect(await gql(gateway.fetch, '{ products { name price } }')).toEqual({ data: { products: [{ name: 'Table', price: 120 }, { name: 'Chair', price: 40 }] } });
  });
});

describe.each(PLANNERS)('plain Federation gateway composing external subgraphs: down at start, live recomposition, last good on conflict (%s)', (queryPlanner) => {
  let products: TeamSubgraph;
  let reviews: TeamSubgraph;
  let gateway: Gateway;
  const logs: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  const logger = Object.fromEntries(['info', 'warn', 'error'].map((level) => [level, (fields: Record<string, unknown>, msg: string) => logs.push({ level, msg, fields })])) as never;
  beforeAll(async () => {
    [products, reviews] = await Promise.all([teamSubgraph(), teamSubgraph()]);
    products.serve(PRODUCTS_SDL, productResolvers);
    // reviews is down when the gateway starts.
    gateway = await createGateway({
      subgraphs: [{ name: 'products', url: products.url }, { name: 'reviews', url: reviews.url }],
      auth: NONE,
      pollMs: 0,
      logger,
      queryPlanner,
    });
  });
  afterAll(async () => {
    await gateway?.dispose();
    await Promise.all([products?.close(), reviews?.close()]);
  });
  afterEach(() => {
    logs.length = 0;
  });

  it('starts without a subgraph that is down, and says so in the log and in health', async () => {
    expect(gateway.health()).toMatchObject({ status: 'degraded', subgraphs: [{ name: 'products', state: 'up' }, { name: 'reviews', state: 'down' }] });
    // Still ready (it serves what it can; every replica sees the same subgraphs), and says which is down.
    const ready = await gateway.fetch(new Request('http://gw.test/ready'));
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'degraded', checks: [{ name: 'lifecycle', status: 'healthy' }, { name: 'subgraphs', status: 'degraded', message: 'subgraphs down: reviews' }] });
    expect(await gql(gateway.fetch, '{ products { name } }')).toEqual({ data: { products: [{ name: 'Table' }, { name: 'Chair' }] } });
    const r = await gql(gateway.fetch, '{ products { reviews } }');
    expect(r.errors?.[0]?.message).toMatch(/Cannot query field "reviews"/);
  });

  it('recomposes when the subgraph comes up, and serves its fields', async () => {
    reviews.serve(REVIEWS_SDL, reviewResolvers);
    expect(await gateway.refresh()).toBe(true);
    expect(gateway.health()).toMatchObject({ status: 'healthy', subgraphs: [{ state: 'up' }, { state: 'up' }] });
    expect(await (await gateway.fetch(new Request('http://gw.test/ready'))).json()).toMatchObject({ status: 'healthy', checks: [{ name: 'lifecycle' }, { name: 'subgraphs', status: 'healthy' }] });
    expect(await gql(gateway.fetch, '{ products { upc reviews } }')).toEqual({ data: { products: [{ upc: '1', reviews: ['review of 1'] }, { upc: '2', reviews: ['review of 2'] }] } });
    expect(logs.some((l) => l.msg.startsWith('supergraph recomposed'))).toBe(true);
  });

  it('keeps serving the last good supergraph when a change does not compose, naming the subgraph and the conflict', async () => {
    reviews.serve(CONFLICTING_REVIEWS_SDL, reviewResolvers);
    expect(await gateway.refresh()).toBe(false);
    const refused = logs.find((l) => l.level === 'error');
    expect(refused?.msg).toMatch(/composition failed.*last good/);
    expect(String(refused?.fields['err'])).toMatch(/Product\.name/);
    expect(refused?.fields['subgraphs']).toEqual(expect.arrayContaining(['reviews']));
    expect(gateway.health()).toMatchObject({ status: 'degraded', lastFailure: { subgraphs: expect.arrayContaining(['reviews']) } });
    expect(await gql(gateway.fetch, '{ products { name reviews } }')).toEqual({ data: { products: [{ name: 'Table', reviews: ['review of 1'] }, { name: 'Chair', reviews: ['review of 2'] }] } });
  });

  it('reports a subgraph that stops answering, and its fields fail with a code naming it, never its URL', async () => {
    reviews.down();
    expect(await gateway.refresh()).toBe(false);
    expect(gateway.health().subgraphs).toEqual([expect.objectContaining({ name: 'products', state: 'up' }), expect.objectContaining({ name: 'reviews', state: 'down' })]);
    const r = await gql(gateway.fetch, '{ products { name reviews } }');
    expect(r.errors?.[0]).toMatchObject({ message: 'Subgraph "reviews" could not be reached', extensions: { code: 'SUBGRAPH_UNAVAILABLE', subgraph: 'reviews' } });
    expect(JSON.stringify(r)).not.toContain(reviews.url);
    expect(JSON.stringify(r)).not.toContain('_entities');
  });
});

describe('plain Federation gateway with JWT authentication against a JWKS URL', () => {
  let idp: Server;
  let jwksUrl: string;
  let keys: { privateKey: CryptoKey; publicKey: CryptoKey };
  let team: TeamSubgraph;
  let gateway: Gateway;
  const ISSUER = 'https://idp.example.test/';
  const token = (claims: Record<string, unknown>, options: { issuer?: string; expiresIn?: string; key?: CryptoKey } = {}) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(options.issuer ?? ISSUER).setAudience('objectos').setIssuedAt().setExpirationTime(options.expiresIn ?? '5m').sign(options.key ?? keys.privateKey);
  const ask = async (authorization?: string) => {
    const res = await gateway.fetch(new Request('http://gw.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify({ query: '{ whoami }' }),
    }));
    return { status: res.status, body: (await res.json()) as { data?: { whoami: string }; errors?: { message: string; extensions: { code: string } }[] } };
  };
  beforeAll(async () => {
    keys = await generateKeyPair('ES256');
    const jwk: JWK = { ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'ES256' };
    idp = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
    await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(idp.address() as { port: number }).port}/.well-known/jwks.json`;
    team = await teamSubgraph();
    // The team's subgraph checks the gateway's tokens against the gateway's JWKS (served below).
    const verify: SubgraphTokenVerifierOptions = {
      jwks: async (header, t) => (await import('jose')).createLocalJWKSet((await (await gateway.fetch(new Request('http://gw.test/.well-known/jwks.json'))).json()) as never)(header, t),
      audience: 'team',
      issuer: 'https://objectos.example.test',
    };
    team.serve(`${FED}\ntype Query { whoami: String! }`, {
      Query: { whoami: (_: unknown, __: unknown, ctx: { request: Request }) => {
        const p = principalOfToken(ctx.request);
        return `${p.userId}@${p.organizationId} [${p.roles.join(',')}]`;
      } },
    }, [useSubgraphToken(verify)]);
    gateway = await createGateway({
      subgraphs: [{ name: 'team', url: team.url, sdl: `${FED}\ntype Query { whoami: String! }` }],
      auth: { mode: 'jwt', secret: TEST_SECRET, jwks: jwksUrl, issuer: ISSUER, audience: 'objectos' },
      publicUrl: 'https://objectos.example.test',
      pollMs: 0,
    });
  });
  afterAll(async () => {
    await gateway?.dispose();
    await team?.close();
    await new Promise<void>((resolve) => idp?.close(() => resolve()));
  });

  it('accepts a valid token, and the subgraph receives its subject, organization and roles in the gateway token', async () => {
    const r = await ask(`Bearer ${await token({ sub: 'u-42', org_id: 'org-7', roles: ['sales', 'manager'] })}`);
    expect(r).toEqual({ status: 200, body: { data: { whoami: 'u-42@org-7 [sales,manager]' } } });
  });

  it('refuses no token, an expired one, one from another issuer or signed by another key, each saying why', async () => {
    const other = await generateKeyPair('ES256');
    const cases: [string | undefined, RegExp][] = [
      [undefined, /Authorization: Bearer <JWT>/],
      [`Bearer ${await token({ sub: 'u-1' }, { expiresIn: '-1m' })}`, /expired/],
      [`Bearer ${await token({ sub: 'u-1' }, { issuer: 'https://evil.example.test/' })}`, /"iss" claim/],
      [`Bearer ${await token({ sub: 'u-1' }, { key: other.privateKey })}`, /not valid/],
      ['Bearer not-a-jwt', /not valid/],
      ['Basic dTpw', /Authorization: Bearer <JWT>/],
    ];
    for (const [authorization, why] of cases) {
      const r = await ask(authorization);
      expect(r.status, authorization).toBe(401);
      expect(r.body.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
      expect(r.body.errors?.[0]?.message).toMatch(why);
      expect(r.body.data).toBeUndefined();
    }
  });
});
