import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ADVISORY_FLOORS, compareVersions, floorViolations, lockedVersions, REPO_ROOT } from '../src/index.ts';

const lockfile = readFileSync(`${REPO_ROOT}pnpm-lock.yaml`, 'utf8');

describe('dependency advisory floors (checked against the lockfile)', () => {
  it('no locked package is below its floor', () => {
    expect(floorViolations(lockfile)).toEqual([]);
  });

  it('reads the lockfile, including the packages the floors name that are installed', () => {
    const locked = lockedVersions(lockfile);
    expect(locked.get('graphql')).toEqual(new Set(['16.15.0']));
    for (const name of ['ws', '@escape.tech/graphql-armor-max-depth', '@escape.tech/graphql-armor-max-aliases'])
      expect(locked.has(name), `${name} should be in the lockfile`).toBe(true);
  });

  it('catches a version below its floor', () => {
    const old = lockfile.replace(/^ {2}ws@8\.\d+\.\d+:/m, '  ws@8.17.0:');
    expect(floorViolations(old)).toEqual([`ws@8.17.0 is below 8.17.1 (${ADVISORY_FLOORS['ws']!.why})`]);
    expect(floorViolations("packages:\n\n  'better-auth@1.4.16':\n    resolution: {}\n")).toHaveLength(1);
  });

  it('compares versions numerically, pre-releases below releases', () => {
    expect(compareVersions('8.17.10', '8.17.9')).toBeGreaterThan(0);
    expect(compareVersions('1.4.17-beta.1', '1.4.17')).toBeLessThan(0);
    expect(compareVersions('2.4.2', '2.4.2')).toBe(0);
  });
});
