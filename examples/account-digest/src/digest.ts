import WebSocket from 'ws';
import {
  AccountChangedDocument, createObjectOSClient, CreateAccountDocument, ListAccountsDocument, MeDocument,
  ObjectOSClientError, UpdateAccountDocument, type AccountChangedSubscription, type ChangeOperation, type ListAccountsQuery,
} from '@objectos/sdk';

/**
 * An app written against ObjectOS's typed SDK only (no hand-written query strings, no `any`): every
 * document, variable and result below is typed by `npm run codegen`, so a breaking change in the
 * schema fails this file's type check before it fails at run time.
 */
export interface DigestOptions {
  /** The GraphQL endpoint, e.g. http://localhost:4000/graphql. */
  url: string;
  email: string;
  password: string;
  /** Name of the account the digest creates (and then watches change). */
  newAccount: string;
}

export interface Digest {
  user: string;
  organization: string | null;
  accounts: number;
  largest: { name: string; annualRevenue: number | null; contacts: number }[];
  created: { id: string; accountNumber: string | null };
  /** Live events seen for the created account while it was renamed, in order. */
  events: { op: ChangeOperation; name: string | undefined; previous: string | undefined }[];
}

/** Signs in with email and password (better-auth) and returns the bearer token. */
export async function signIn(url: string, email: string, password: string): Promise<string> {
  const res = await fetch(new URL('/api/auth/sign-in/email', url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  const token = res.headers.get('set-auth-token');
  if (!res.ok || !token) throw new Error(`sign-in failed (HTTP ${res.status}): ${await res.text()}`);
  return token;
}

type Node = ListAccountsQuery['accounts']['nodes'][number];
type Change = AccountChangedSubscription['accountChanged'];

export async function runDigest(options: DigestOptions): Promise<Digest> {
  const token = await signIn(options.url, options.email, options.password);
  const client = createObjectOSClient({ url: options.url, headers: { authorization: `Bearer ${token}` }, webSocketImpl: WebSocket });
  try {
    const { me, activeOrganization } = await client.request(MeDocument);
    if (!me) throw new Error('signed in, but `me` is empty');
    const nodes: Node[] = [];
    let after: string | null | undefined = null;
    let total = 0;
    do {
      const page: ListAccountsQuery = await client.request(ListAccountsDocument, { first: 25, after });
      nodes.push(...page.accounts.nodes);
      total = page.accounts.totalCount;
      after = page.accounts.pageInfo.hasNextPage ? page.accounts.pageInfo.endCursor : null;
    } while (after);
    const largest = [...nodes]
      .sort((a, b) => (b.annualRevenue ?? 0) - (a.annualRevenue ?? 0))
      .slice(0, 3)
      .map((a) => ({ name: a.name, annualRevenue: a.annualRevenue ?? null, contacts: a.contacts.length }));
    const { createAccount } = await client.request(CreateAccountDocument, { input: { name: options.newAccount, industry: 'technology' } });
    // Watch the new account while it is renamed twice through the API; the socket carries our token.
    const events: Digest['events'] = [];
    const seen = new Promise<void>((resolve, reject) => {
      const stop = client.subscribe(AccountChangedDocument, { where: { id: { eq: createAccount.id } }, operations: ['UPDATED'] }, {
        next: (data: AccountChangedSubscription) => {
          const e: Change = data.accountChanged;
          events.push({ op: e.op, name: e.record?.name, previous: e.previous?.name });
          if (events.length === 2) {
            stop();
            resolve();
          }
        },
        error: (e: ObjectOSClientError) => reject(e),
      });
    });
    // The subscription is set up on the server before the first rename (graphql-ws acknowledges lazily).
    await new Promise((r) => setTimeout(r, 300));
    for (const suffix of [' (renamed)', ' (renamed twice)'])
      await client.request(UpdateAccountDocument, { id: createAccount.id, input: { name: options.newAccount + suffix } });
    await Promise.race([seen, new Promise((_, reject) => setTimeout(() => reject(new Error('no live event within 10 s')), 10_000))]);
    return {
      user: me.email,
      organization: activeOrganization?.name ?? null,
      accounts: total,
      largest,
      created: { id: createAccount.id, accountNumber: createAccount.accountNumber ?? null },
      events,
    };
  } finally {
    await client.close();
  }
}
