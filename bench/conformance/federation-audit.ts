/**
 * The graphql-hive federation-gateway-audit (46 suites, 199 cases) against ObjectOS's gateway in plain
 * Federation mode, from the copy in ../shared/conformance (never edited: it is copied to
 * .objectos/conformance/ and installed there without its lockfile, see that folder's README).
 *
 *   npm run bench:federation-audit                       # both modes, every suite
 *   npm run bench:federation-audit -- --mode supergraph  # the suite's supergraph file (Apollo composition)
 *   npm run bench:federation-audit -- --mode compose     # ObjectOS composes the subgraphs itself
 *   npm run bench:federation-audit -- --suite requires-with-argument
 *   npm run bench:federation-audit -- --planner stitching   # schema stitching instead of the Rust planner (the default)
 *
 * Results go to bench/conformance/results/federation-audit-<mode>-<planner>.txt (the audit's own format: suite, then one
 * `.` or `X` per case, then totals). Everything listens on 127.0.0.1; each suite's gateway is started
 * by the audit through run-objectos.sh and stopped after its cases.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const source = resolve(process.env['OBJECTOS_SHARED'] ?? resolve(root, '../shared'), 'conformance/federation-gateway-audit');
const work = resolve(root, '.objectos/conformance/federation-gateway-audit');
const preload = join(here, 'preload.cjs');
const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const modeArg = opt('mode') ?? 'both';
if (!['supergraph', 'compose', 'both'].includes(modeArg)) throw new Error(`--mode is supergraph, compose or both, got "${modeArg}"`);
const modes = modeArg === 'both' ? ['supergraph', 'compose'] : [modeArg];
const suite = opt('suite');
const planner = opt('planner') ?? 'rust';
if (!['stitching', 'rust'].includes(planner)) throw new Error(`--planner is stitching or rust, got "${planner}"`);
const tag = (mode: string) => `${mode}-${planner}`;
const RUN_LIMIT_MS = 20 * 60_000;

/** Dev tooling the audit's package.json lists that is not needed to run it (and pins what the registry here lacks). */
const UNNEEDED = ['@changesets/changelog-github', '@changesets/cli', 'wgc', '@graphql-hive/gateway', '@graphql-hive/router-runtime', 'pkgroll', 'prettier', 'typescript', '@apollo/server', '@as-integrations/express5', 'express', '@types/express'];

function run(command: string, argv: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; limitMs: number; quiet?: boolean }): Promise<number> {
  return new Promise((done, fail) => {
    const child = spawn(command, argv, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: options.quiet ? 'ignore' : 'inherit' });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`${command} ${argv.join(' ')} ran past ${options.limitMs / 60_000} min`));
    }, options.limitMs);
    child.on('error', fail);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done(code ?? 1);
    });
  });
}

async function prepare(): Promise<void> {
  if (!existsSync(source)) throw new Error(`the audit is not at ${source} (set OBJECTOS_SHARED to the folder holding conformance/)`);
  const stamp = createHash('sha256').update(readFileSync(join(source, 'package.json'))).update(UNNEEDED.join(',')).digest('hex');
  const stampFile = join(work, '.objectos-prepared');
  if (!existsSync(stampFile) || readFileSync(stampFile, 'utf8') !== stamp) {
    console.log(`copying the audit to ${work} and installing it (once)…`);
    rmSync(work, { recursive: true, force: true });
    mkdirSync(dirname(work), { recursive: true });
    cpSync(source, work, { recursive: true, filter: (p) => !p.includes('/node_modules') });
    rmSync(join(work, 'package-lock.json'), { force: true });
    const pkg = JSON.parse(readFileSync(join(work, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    for (const d of UNNEEDED) delete pkg.devDependencies[d];
    writeFileSync(join(work, 'package.json'), JSON.stringify(pkg, null, 2));
    const code = await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: work, limitMs: 10 * 60_000 });
    if (code !== 0) throw new Error(`npm install of the audit failed (exit ${code})`);
    writeFileSync(stampFile, stamp);
  }
  mkdirSync(join(work, 'gateways/objectos'), { recursive: true });
  cpSync(join(here, 'run-objectos.sh'), join(work, 'gateways/objectos/run.sh'));
}

interface Score {
  passed: number;
  failed: number;
  failing: string[];
}

function scoreOf(text: string): Score {
  const lines = text.split('\n');
  const failing: string[] = [];
  let passed = 0;
  let failed = 0;
  for (let i = 0; i + 1 < lines.length && lines[i] !== ''; i += 2) {
    const marks = lines[i + 1]!;
    passed += [...marks].filter((c) => c === '.').length;
    const x = [...marks].filter((c) => c === 'X').length;
    failed += x;
    if (x > 0 || marks.length === 0) failing.push(`${lines[i]} (${x || 'no'} of ${marks.length || '?'} failed: ${marks || 'no cases ran'})`);
  }
  return { passed, failed, failing };
}

async function main(): Promise<void> {
  await prepare();
  const runScript = join(work, 'gateways/objectos/run.sh');
  const common = ['--run-script', runScript, '--graphql', 'http://127.0.0.1:4000/graphql', '--healthcheck', 'http://127.0.0.1:4000/healthcheck', '--reporter', 'dot'];
  mkdirSync(join(here, 'results'), { recursive: true });
  const scores: Record<string, Score> = {};
  for (const mode of modes) {
    const env = { AUDIT_MODE: mode, OBJECTOS_ROOT: root, NODE_OPTIONS: '', OBJECTOS_QUERY_PLANNER: planner };
    const cli = ['-r', preload, '--import', 'tsx', 'src/cli.ts'];
    const started = Date.now();
    console.log(`\n=== federation-gateway-audit, ObjectOS gateway over ${mode === 'supergraph' ? "the suite's supergraph file" : 'its own composition of the subgraphs'}, ${planner} planner ===`);
    if (suite) {
      const code = await run('node', [...cli, 'test-suite', '--test', suite, ...common], { cwd: work, env, limitMs: RUN_LIMIT_MS });
      console.log(`suite ${suite}: ${code === 0 ? 'every case passed' : 'some cases failed'} (logs in ${join(work, 'logs')})`);
      continue;
    }
    const out = join(work, `results-${tag(mode)}.txt`);
    rmSync(out, { force: true });
    await run('node', [...cli, 'test', ...common, '--write', out], { cwd: work, env, limitMs: RUN_LIMIT_MS });
    if (!existsSync(out)) throw new Error(`the audit wrote no results for mode ${mode}`);
    const text = readFileSync(out, 'utf8');
    const score = scoreOf(text);
    scores[tag(mode)] = score;
    const header = [
      `# federation-gateway-audit (graphql-hive, commit f59c05e): ObjectOS gateway, plain mode, ${mode === 'supergraph' ? 'supergraph file (Apollo composition 2.14.1)' : 'own composition (@theguild/federation-composition)'}, ${planner === 'rust' ? "Hive's Rust query planner" : 'schema stitching (@graphql-tools/federation)'}`,
      `# ${new Date().toISOString()}, ${Math.round((Date.now() - started) / 1000)} s, npm run bench:federation-audit -- --mode ${mode} --planner ${planner}`,
      `# ${score.passed}/${score.passed + score.failed} cases passed`,
      '',
    ].join('\n');
    writeFileSync(join(here, `results/federation-audit-${tag(mode)}.txt`), header + text + '\n');
  }
  if (Object.keys(scores).length > 0) {
    console.log('\n=== federation-gateway-audit summary ===');
    for (const [mode, s] of Object.entries(scores)) {
      console.log(`${mode.padEnd(28)} ${s.passed}/${s.passed + s.failed} passed (Hive Gateway 197/199, Apollo Gateway 193/199)`);
      for (const f of s.failing) console.log(`  ✗ ${f}`);
    }
    console.log(`results: bench/conformance/results/federation-audit-{${Object.keys(scores).join(',')}}.txt; logs: ${join(work, 'logs')}`);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
