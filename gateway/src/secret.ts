import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ObjectOSConfig } from './config.ts';

/**
 * OBJECTOS_SECRET, or in development a generated one kept (mode 0600) beside the data, so sessions
 * survive restarts. Production refuses to start without a configured secret.
 */
export function resolveSecret(config: Pick<ObjectOSConfig, 'secret' | 'secretFile' | 'production'>): string {
  if (config.secret) {
    if (config.secret.length < 32) throw new Error('OBJECTOS_SECRET must be at least 32 characters (try: openssl rand -base64 48)');
    return config.secret;
  }
  if (config.production) throw new Error('OBJECTOS_SECRET is required in production (at least 32 characters; try: openssl rand -base64 48)');
  try {
    const stored = readFileSync(config.secretFile, 'utf8').trim();
    if (stored.length >= 32) return stored;
  } catch {
    // first start
  }
  const secret = randomBytes(48).toString('base64url');
  mkdirSync(dirname(config.secretFile), { recursive: true });
  writeFileSync(config.secretFile, `${secret}\n`, { mode: 0o600 });
  return secret;
}
