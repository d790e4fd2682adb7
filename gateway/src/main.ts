import { relative } from 'node:path';
import { currentTracing, startTracing } from '@objectos/observability';
import { readConfig, type ObjectOSConfig } from './config.ts';

const onSignals = (stop: () => Promise<void>) => {
  let stopping = false;
  const handle = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: shutting down (not ready; finishing requests in flight, then stopping plugins in reverse order)`);
    stop()
      .then(() => currentTracing()?.shutdown())
      .then(() => process.exit(0), (e: unknown) => {
        console.error(`shutdown failed: ${e instanceof Error ? e.message : String(e)}`);
        process.exit(1);
      });
  };
  process.on('SIGINT', () => handle('SIGINT'));
  process.on('SIGTERM', () => handle('SIGTERM'));
};

/** OBJECTOS_MODE=gateway: the gateway alone (its module graph only: no database, no subgraphs loaded). */
async function gatewayOnly(config: ObjectOSConfig): Promise<void> {
  const { startGatewayOnly } = await import('./start-gateway.ts');
  const app = await startGatewayOnly(config);
  const h = app.gateway.health();
  console.log(`ObjectOS gateway (plain Federation mode, auth: ${config.auth}) serving ${h.supergraph.source === 'given' ? `the supergraph ${config.supergraph}` : 'its own composition'}`);
  for (const s of h.subgraphs) console.log(`  subgraph ${s.name}: ${s.state}`);
  console.log(`GraphQL endpoint: ${app.url}  (health: ${new URL('/health', app.url).href})`);
  onSignals(() => app.stop());
}

/** `npm start`: ObjectOS on the embedded engine (or DATABASE_URL), demo metadata, one endpoint. */
async function main(): Promise<void> {
  const config = readConfig();
  // Traces when OTEL_EXPORTER_OTLP_ENDPOINT (or OBJECTOS_TRACING=on) is set; before anything else starts.
  await startTracing({ serviceName: config.mode === 'gateway' || Object.keys(config.remoteSubgraphs).length > 0 ? 'objectos-gateway' : 'objectos' });
  if (config.mode === 'gateway') return gatewayOnly(config);
  const { startObjectOS } = await import('./start.ts');
  const app = await startObjectOS(config);
  const engine = config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${config.dataDir}`;
  const seeded = app.data?.seeded?.inserted ?? {};
  const total = Object.values(seeded).reduce((a, b) => a + b, 0);
  console.log(`ObjectOS is running on ${engine}`);
  if (total > 0) console.log(`Seeded ${total} demo records (${Object.entries(seeded).map(([k, v]) => `${v} ${k}`).join(', ')})`);
  console.log(`GraphQL endpoint: ${app.url}${config.graphiql ? '  (open it in a browser for GraphiQL)' : ''}`);
  if (app.hotReload) console.log(`Watching ${relative(process.cwd(), config.metadataDir) || '.'}/ : an edited metadata file is served without a restart (OBJECTOS_WATCH=false turns this off)`);
  else if (config.watch) console.log('Hot reload is off: a subgraph built from the metadata runs in another process (OBJECTOS_SUBGRAPHS) and loads it itself');
  const demo = app.identity?.demo;
  const origin = new URL(app.url).origin;
  if (demo?.password) {
    console.log(`\nDemo account, owner of the organization "acme" (created now; the password is shown only this once):`);
    console.log(`  email:    ${demo.email}\n  password: ${demo.password}\n  organization: ${demo.organizationSlug}`);
    if (demo.members.length > 0) {
      // The demo records are shared out among these: each sees what its role, the hierarchy and sharing rules allow.
      console.log('Demo members of "acme" (same password), each with a role of the demo metadata and demo records of their own:');
      for (const m of demo.members) console.log(`  ${m.email.padEnd(34)} role ${m.role}`);
    }
    console.log(`Sign in and query:`);
    console.log(`  TOKEN=$(curl -s -D - -o /dev/null -H 'content-type: application/json' -d '{"email":"${demo.email}","password":"${demo.password}"}' ${origin}/api/auth/sign-in/email | awk -F': ' 'tolower($1)=="set-auth-token"{print $2}' | tr -d '\\r')`);
    console.log(`  curl -s -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"query":"{ me { email } accounts(first: 3) { nodes { name } } }"}' ${app.url}`);
  } else if (demo) {
    console.log(`Sign in as ${demo.email} with the password printed on the first start (or sign up at ${origin}/api/auth/sign-up/email).`);
  }
  onSignals(() => app.stop());
}

main().catch((e: unknown) => {
  console.error(`ObjectOS failed to start:\n${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
