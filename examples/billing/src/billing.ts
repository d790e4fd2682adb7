import { buildSubgraphSchema } from '@apollo/subgraph';
import { GraphQLError, parse } from 'graphql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { principalOfToken, useSubgraphToken, type Principal, type SubgraphTokenVerifierOptions } from '@objectos/principal';

/**
 * A team's billing service, composed into ObjectOS's endpoint: it extends ObjectOS's `Account` entity
 * with `billingPlan` and `invoices`, and adds `invoice(number)`. It shares no secret with ObjectOS: each
 * call carries a short-lived token the gateway signed for the audience `billing`, checked against the
 * gateway's `/.well-known/jwks.json`. The token's principal says who is asking and in which
 * organization, so invoices are kept per organization and read only by its members.
 */
export const BILLING_SDL = /* GraphQL */ `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key"])

type Account @key(fields: "id") {
  id: ID!
  "The plan this account is billed on."
  billingPlan: String!
  "Invoices issued to this account, newest first."
  invoices: [Invoice!]!
}

type Invoice {
  number: String!
  total: Float!
  currency: String!
  paid: Boolean!
  account: Account!
}

type Query {
  "An invoice of the caller's organization, by number; null when there is none."
  invoice(number: String!): Invoice
}

type Mutation {
  "Issues an invoice to an account of the caller's organization."
  issueInvoice(accountId: ID!, total: Float!, currency: String! = "EUR"): Invoice!
}
`;

export interface Invoice {
  organizationId: string;
  accountId: string;
  number: string;
  total: number;
  currency: string;
  paid: boolean;
}

/** Where invoices are kept; a real service has its own database. */
export interface InvoiceStore {
  add(invoice: Invoice): void;
  count(): number;
  forAccount(organizationId: string, accountId: string): Invoice[];
  byNumber(organizationId: string, number: string): Invoice | undefined;
}

export function memoryInvoiceStore(invoices: Invoice[] = []): InvoiceStore {
  return {
    add: (i) => void invoices.push(i),
    count: () => invoices.length,
    forAccount: (org, account) => invoices.filter((i) => i.organizationId === org && i.accountId === account).reverse(),
    byNumber: (org, number) => invoices.find((i) => i.organizationId === org && i.number === number),
  };
}

type Context = { request: Request };

/** The caller's organization; anyone outside one has no invoices to see. */
function organizationOf(ctx: Context): string {
  const p: Principal = principalOfToken(ctx.request);
  if (!p.organizationId) throw new GraphQLError('Invoices belong to an organization: sign in as a member of one.', { extensions: { code: 'FORBIDDEN' } });
  return p.organizationId;
}

export function createBillingSubgraph(options: { token: SubgraphTokenVerifierOptions; store: InvoiceStore }): YogaServerInstance<Record<string, unknown>, Record<string, unknown>> {
  const { store } = options;
  const resolvers = {
    Account: {
      // ObjectOS only sends references to accounts the caller can read.
      __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
      billingPlan: (a: { id: string }, _: unknown, ctx: Context) => (store.forAccount(organizationOf(ctx), a.id).length > 2 ? 'enterprise' : 'team'),
      invoices: (a: { id: string }, _: unknown, ctx: Context) => store.forAccount(organizationOf(ctx), a.id),
    },
    Invoice: {
      account: (i: Invoice) => ({ __typename: 'Account', id: i.accountId }),
    },
    Query: {
      invoice: (_: unknown, args: { number: string }, ctx: Context) => store.byNumber(organizationOf(ctx), args.number) ?? null,
    },
    Mutation: {
      issueInvoice: (_: unknown, args: { accountId: string; total: number; currency: string }, ctx: Context) => {
        if (!(args.total > 0)) throw new GraphQLError(`total must be positive, got ${args.total}`, { extensions: { code: 'BAD_USER_INPUT' } });
        const invoice: Invoice = {
          organizationId: organizationOf(ctx), accountId: args.accountId, number: `INV-${String(store.count() + 1).padStart(5, '0')}`,
          total: args.total, currency: args.currency, paid: false,
        };
        store.add(invoice);
        return invoice;
      },
    },
  };
  const schema = buildSubgraphSchema([{ typeDefs: parse(BILLING_SDL), resolvers: resolvers as never }]);
  return createYoga({ schema, landingPage: false, graphiql: false, plugins: [useSubgraphToken(options.token)] });
}
