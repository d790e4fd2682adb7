import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { createYoga } from 'graphql-yoga';

/**
 * The Guild gateways benchmark's four subgraphs (accounts, inventory, products, reviews), ported from
 * its Rust sources to Node (@apollo/subgraph on graphql-yoga) with the same data and the same entity
 * semantics. The data is read from the Rust files themselves, so nothing is retyped:
 * - `Review.author` is always user 1 ("urigo", @provides username) with the first two reviews;
 * - a User reference into reviews answers username "user" and the first two reviews;
 * - inventory's Product reference ignores the `price`/`weight` it @requires, as the Rust entity
 *   resolver does (it looks the product up by upc, where both are None): `shippingEstimate` is null.
 * Serves /accounts, /inventory, /products and /reviews on PORT (127.0.0.1), as the Rust binary does.
 */
const source = (file: string) => readFileSync(join(process.env['BENCHMARK_DIR']!, 'subgraphs', file), 'utf8');
const str = (block: string, field: string) => new RegExp(`${field}: Some\\("((?:[^"\\\\]|\\\\.)*)"`).exec(block)?.[1] ?? null;
const num = (block: string, field: string) => {
  const m = new RegExp(`${field}: Some\\((-?\\d+)\\)`).exec(block);
  return m ? Number(m[1]) : null;
};
const bool = (block: string, field: string) => {
  const m = new RegExp(`${field}: Some\\((true|false)\\)`).exec(block);
  return m ? m[1] === 'true' : null;
};
const blocks = (text: string, struct: string) => text.split(new RegExp(`\\b${struct} \\{`)).slice(1).filter((b) => /"/.test(b.slice(0, 400)));

const USERS = blocks(source('accounts.rs'), 'User').filter((b) => /ID\("/.test(b)).map((b) => ({
  id: /ID\("(\w+)"/.exec(b)![1]!, name: str(b, 'name'), username: str(b, 'username'), birthday: num(b, 'birthday'),
}));
const PRODUCTS = blocks(source('products.rs'), 'Product').filter((b) => /upc: "/.test(b)).map((b) => ({
  upc: /upc: "(\w+)"/.exec(b)![1]!, name: str(b, 'name'), price: num(b, 'price'), weight: num(b, 'weight'),
}));
const INVENTORY = blocks(source('inventory.rs'), 'Product').filter((b) => /upc: "/.test(b)).map((b) => ({
  upc: /upc: "(\w+)"/.exec(b)![1]!, inStock: bool(b, 'in_stock'),
}));
const REVIEWS = source('reviews.rs').split(/\bReview \{/).slice(1).filter((b) => /id: ID\("/.test(b.slice(0, 40))).map((b) => ({
  id: /id: ID\("(\w+)"/.exec(b)![1]!, body: str(b, 'body')!.replace(/\\"/g, '"'), product: { upc: /upc: "(\w+)"/.exec(b)![1]! },
}));
if (USERS.length !== 6 || PRODUCTS.length !== 9 || INVENTORY.length !== 9 || REVIEWS.length !== 11)
  throw new Error(`unexpected data from the Rust sources: ${USERS.length} users, ${PRODUCTS.length} products, ${INVENTORY.length} inventory rows, ${REVIEWS.length} reviews`);

const LINK = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@external", "@requires", "@provides"])';
const firstTwo = () => REVIEWS.slice(0, 2);

export const SUBGRAPHS = {
  accounts: {
    typeDefs: `${LINK}
      type User @key(fields: "id") { id: ID! name: String username: String birthday: Int }
      type Query { me: User user(id: ID!): User users: [User] }`,
    resolvers: {
      Query: { me: () => USERS[0], user: (_: unknown, a: { id: string }) => USERS.find((u) => u.id === a.id) ?? null, users: () => USERS },
      User: { __resolveReference: (r: { id: string }) => USERS.find((u) => u.id === r.id) },
    },
  },
  inventory: {
    typeDefs: `${LINK}
      type Product @key(fields: "upc") { upc: String! weight: Int @external price: Int @external inStock: Boolean shippingEstimate: Int @requires(fields: "price weight") }`,
    resolvers: {
      Product: {
        // As the Rust resolver: the row by upc, whose price and weight are None (what was required is not read).
        __resolveReference: (r: { upc: string }) => ({ ...INVENTORY.find((p) => p.upc === r.upc)!, price: null, weight: null }),
        shippingEstimate: (p: { price: number | null; weight: number | null }) => (p.price === null ? null : p.price > 1000 ? 0 : p.weight === null ? null : Math.trunc(p.weight / 2)),
      },
    },
  },
  products: {
    typeDefs: `${LINK}
      type Product @key(fields: "upc") { upc: String! name: String price: Int weight: Int }
      type Query { topProducts(first: Int = 5): [Product] }`,
    resolvers: {
      Query: { topProducts: (_: unknown, a: { first?: number | null }) => PRODUCTS.slice(0, a.first ?? 5) },
      Product: { __resolveReference: (r: { upc: string }) => PRODUCTS.find((p) => p.upc === r.upc) },
    },
  },
  reviews: {
    typeDefs: `${LINK}
      type Review @key(fields: "id") { id: ID! body: String product: Product author: User @provides(fields: "username") }
      type User @key(fields: "id") { id: ID! username: String @external reviews: [Review] }
      type Product @key(fields: "upc") { upc: String! reviews: [Review] }`,
    resolvers: {
      Review: {
        __resolveReference: (r: { id: string }) => REVIEWS.find((x) => x.id === r.id),
        author: () => ({ id: '1', username: 'urigo', reviews: firstTwo() }),
      },
      User: { __resolveReference: (r: { id: string }) => ({ id: r.id, username: 'user', reviews: firstTwo() }) },
      Product: {
        __resolveReference: (r: { upc: string }) => ({ upc: r.upc }),
        reviews: (p: { upc: string }) => REVIEWS.filter((x) => x.product.upc === p.upc),
      },
    },
  },
} as const;

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const yogas = Object.fromEntries(Object.entries(SUBGRAPHS).map(([name, s]) => [
    name,
    createYoga({ schema: buildSubgraphSchema([{ typeDefs: parse(s.typeDefs), resolvers: s.resolvers as never }]), graphqlEndpoint: `/${name}`, landingPage: false, graphiql: false, logging: false }),
  ]));
  const server = createServer((req, res) => {
    const name = (req.url ?? '/').split('?')[0]!.slice(1);
    const yoga = yogas[name];
    if (!yoga) return res.writeHead(404).end();
    return yoga(req, res);
  });
  server.listen(Number(process.env['PORT'] ?? 4200), '127.0.0.1', () => console.log(`SUBGRAPHS READY ${(server.address() as { port: number }).port}`));
}
