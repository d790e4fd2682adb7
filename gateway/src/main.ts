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
