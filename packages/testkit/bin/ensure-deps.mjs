// Installs the workspace's dependencies when they are missing or older than the lockfile, so that
// `npm start` and `npm test` are the only two commands a fresh clone needs. Uses only Node built-ins.
import { execSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const marker = `${root}node_modules/.modules.yaml`;
const lock = `${root}pnpm-lock.yaml`;
const stale = !existsSync(marker) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(marker).mtimeMs);
if (stale) {
  console.log('Installing dependencies (pnpm 10, from the lockfile)…');
  execSync('npx --yes pnpm@10 install --frozen-lockfile --reporter=append-only', { cwd: root, stdio: 'inherit' });
}
