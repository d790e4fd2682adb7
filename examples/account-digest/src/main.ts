import { runDigest } from './digest.ts';

/**
 * `npm start` in examples/account-digest, against a running ObjectOS:
 *   OBJECTOS_URL=http://localhost:4000/graphql EMAIL=… PASSWORD=… npm start
 * (the demo account's email and password are printed by ObjectOS's first start).
 */
const need = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`set ${name}`);
  return v;
};
runDigest({
  url: process.env['OBJECTOS_URL'] ?? 'http://localhost:4000/graphql',
  email: need('EMAIL'),
  password: need('PASSWORD'),
  newAccount: process.env['NEW_ACCOUNT'] ?? `Digest ${new Date().toISOString().slice(0, 19)}`,
}).then((d) => console.log(JSON.stringify(d, null, 2)), (e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
