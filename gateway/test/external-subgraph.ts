import { createServer, type Server } from 'node:http';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { useSubgraphToken, type SubgraphTokenVerifierOptions } from '@objectos/principal';

/** What an external subgraph received: enough to replay it elsewhere (the signature-binding suite does). */
export interface ReceivedCall {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface ExternalSubgraphOptions {
  /**
   * Verify the gateway's token as a team's service would: against the gateway's JWKS, with its own
   * name as the audience (`useSubgraphToken` from @objectos/principal).
   */
  token?: SubgraphTokenVerifierOptions;
}

export interface ExternalSubgraph {
  url: string;
  sdl: string;
  /** Every call that reached it, in order. */
  received: ReceivedCall[];
  close(): Promise<void>;
}

/** A team's own Federation v2 subgraph (e.g. billing), served over HTTP on loopback for tests. */
export async function startExternalSubgraph(typeDefs: string, resolvers: Record<string, unknown>, options: ExternalSubgraphOptions = {}): Promise<ExternalSubgraph> {
  const schema = buildSubgraphSchema([{ typeDefs: parse(typeDefs), resolvers: resolvers as never }]);
  const received: ReceivedCall[] = [];
  const record: Plugin = {
    async onRequest({ request }) {
      received.push({ method: request.method, url: request.url, headers: Object.fromEntries(request.headers), body: await request.clone().text() });
    },
  };
  const plugins: Plugin[] = [record, ...(options.token ? [useSubgraphToken(options.token)] : [])];
  const yoga = createYoga({ schema, landingPage: false, graphiql: false, plugins });
  const server: Server = createServer(yoga);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    sdl: typeDefs,
    received,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

export const BILLING_SDL = `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key"])
type Account @key(fields: "id") {
  id: ID!
  billingPlan: String!
  invoices: [Invoice!]!
}
type Invoice {
  number: String!
  total: Float!
}
`;

export const billingResolvers = {
  Account: {
    __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
    billingPlan: (a: { id: string }) => (a.id.endsWith('0') ? 'enterprise' : 'team'),
    invoices: (a: { id: string }) => [{ number: `INV-${a.id.slice(0, 4)}`, total: 99.5 }],
  },
};

/** Claims Account.name as its own (not shareable): composition must fail, naming this subgraph. */
export const CONFLICTING_SDL = `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key"])
type Account @key(fields: "id") {
  id: ID!
  name: Int
}
`;

/** A ledger service whose entries point at accounts by id (a nullable and a non-null reference). */
export const LEDGER_SDL = `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key"])
type Account @key(fields: "id", resolvable: false) {
  id: ID!
}
type Entry {
  number: String!
  account: Account
}
type StrictEntry {
  number: String!
  account: Account!
}
type Query {
  ledger: [Entry!]!
  strictLedger: [StrictEntry]!
}
`;

export const ledgerResolvers = (accountIds: string[]) => {
  const entries = () => accountIds.map((id, i) => ({ number: `L-${i}`, account: { __typename: 'Account', id } }));
  return { Query: { ledger: entries, strictLedger: entries } };
};
