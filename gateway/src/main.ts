import { readConfig } from './config.ts';
import { startObjectOS } from './start.ts';

/** `npm start`: ObjectOS on the embedded engine (or DATABASE_URL), demo metadata, one endpoint. */
async function main(): Promise<void> {
  const config = readConfig();
  const app = await startObjectOS(config);
  const engine = config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${config.dataDir}`;
  const seeded = app.data?.seeded?.inserted ?? {};
  const total = Object.values(seeded).reduce((a, b) => a + b, 0);
  console.log(`ObjectOS is running on ${engine}`);
  if (total > 0) console.log(`Seeded ${total} demo records (${Object.entries(seeded).map(([k, v]) => `${v} ${k}`).join(', ')})`);
  console.log(`GraphQL endpoint: ${app.url}${config.graphiql ? '  (open it in a browser for GraphiQL)' : ''}`);
  const demo = app.identity?.demo;
  const origin = new URL(app.url).origin;
  if (demo?.password) {
    console.log(`\nDemo account, owner of the organization "acme" (created now; the password is shown only this once):`);
    console.log(`  email:    ${demo.email}\n  password: ${demo.password}\n  organization: ${demo.organizationSlug}`);
    console.log(`Sign in and query:`);
    console.log(`  TOKEN=$(curl -s -D - -o /dev/null -H 'content-type: application/json' -d '{"email":"${demo.email}","password":"${demo.password}"}' ${origin}/api/auth/sign-in/email | awk -F': ' 'tolower($1)=="set-auth-token"{print $2}' | tr -d '\\r')`);
    console.log(`  curl -s -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"query":"{ me { email } accounts(first: 3) { nodes { name } } }"}' ${app.url}`);
  } else if (demo) {
    console.log(`Sign in as ${demo.email} with the password printed on the first start (or sign up at ${origin}/api/auth/sign-up/email).`);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: shutting down`);
    app.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((e: unknown) => {
  console.error(`ObjectOS failed to start:\n${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
