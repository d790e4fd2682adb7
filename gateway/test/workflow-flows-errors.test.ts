import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FetchHandler } from '@objectos/testkit';
import { startRulesApp, type RulesApp } from './rules-app.ts';
import { FLOW_ENGINES, owner, runUntil, startFlow, startReceiver, stepsByNode } from './workflow-flows-kit.ts';

const MISSING_ID = '00000000-0000-4000-8000-000000000000';

/**
 * A flow named `name`: start → `first` → … → done, with `extra` nodes and edges; `outcome` (text) is its
 * output and `key` (text) its input. `nodes` are YAML list items; edges start → nodes[0] → … → done are added.
 */
function flow(name: string, o: { errorHandling?: string; chain: string[]; nodes: string[]; edges?: string[] }): string {
  const chain = ['start', ...o.chain, 'done'];
  const edges = chain.slice(1).map((to, i) => `  - { id: n${i}, source: ${chain[i]}, target: ${to} }`);
  return `name: ${name}
type: autolaunched
${o.errorHandling ? `errorHandling: ${o.errorHandling}\n` : ''}variables:
  - { name: key, type: text, isInput: true }
  - { name: outcome, type: text, isOutput: true }
  - { name: response, type: json }
nodes:
  - { id: start, type: start }
  - { id: done, type: end }
${o.nodes.map((n) => `  - ${n}`).join('\n')}
edges:
${[...edges, ...(o.edges ?? []).map((e) => `  - ${e}`)].join('\n')}
`;
}

const set = (id: string, value: string) => `{ id: ${id}, type: assignment, config: { assignments: [ { variable: outcome, value: ${value} } ] } }`;
const http = (id: string, url: string, extra = '') => `{ id: ${id}, type: http_request${extra}, config: { url: "${url}", method: GET, outputVariable: response } }`;
const missingUpdate = (id: string) => `{ id: ${id}, type: update_record, config: { object: account, recordId: "${MISSING_ID}", values: { description: x } } }`;

function files(port: number): Record<string, string> {
  const hook = `http://127.0.0.1:${port}`;
  const f = (name: string, o: Parameters<typeof flow>[1]) => [`workflows/${name}.flow.yaml`, flow(name, o)] as const;
  return Object.fromEntries([
    f('fault_edge', { chain: ['fetch', 'fine'], nodes: [http('fetch', `${hook}/missing/{!key}`), set('fine', 'fine'), set('recovered', 'recovered')],
      edges: ['{ id: fault, source: fetch, target: recovered, type: fault }', '{ id: back, source: recovered, target: done }'] }),
    f('fails', { chain: ['bad', 'never'], nodes: [missingUpdate('bad'), set('never', 'never')] }),
    f('script_fails', { errorHandling: '{ strategy: retry, maxRetries: 3, retryDelayMs: 10 }', chain: ['boom'], nodes: ['{ id: boom, type: script, config: { code: "throw new Error(\'boom \' + input.key)" } }'] }),
    f('retries', { errorHandling: '{ strategy: retry, maxRetries: 3, retryDelayMs: 300, backoffMultiplier: 2 }', chain: ['call', 'fine'], nodes: [http('call', `${hook}/flaky/{!key}`), set('fine', 'fine')] }),
    f('retries_then_fault', { errorHandling: '{ strategy: retry, maxRetries: 1, retryDelayMs: 100 }', chain: ['call', 'fine'], nodes: [http('call', `${hook}/flaky/{!key}`), set('fine', 'fine'), set('gave_up', 'gave_up')],
      edges: ['{ id: fault, source: call, target: gave_up, type: fault }', '{ id: back, source: gave_up, target: done }'] }),
    f('no_retry_on_4xx', { errorHandling: '{ strategy: retry, maxRetries: 3, retryDelayMs: 100 }', chain: ['call'], nodes: [http('call', `${hook}/missing/{!key}`)] }),
    f('continues', { errorHandling: '{ strategy: continue }', chain: ['bad', 'after'], nodes: [missingUpdate('bad'), set('after', 'went_on')] }),
    f('falls_back', { errorHandling: '{ strategy: fail, fallbackNodeId: cleanup }', chain: ['bad', 'never'], nodes: [missingUpdate('bad'), set('never', 'never'), set('cleanup', 'cleaned'), '{ id: done2, type: end }'],
      edges: ['{ id: c1, source: cleanup, target: done2 }'] }),
    f('times_out', { chain: ['slow', 'fine'], nodes: [http('slow', `${hook}/slow/{!key}`, ', timeoutMs: 500'), set('fine', 'fine'), set('too_slow', 'too_slow')],
      edges: ['{ id: fault, source: slow, target: too_slow, type: fault }', '{ id: back, source: too_slow, target: done }'] }),
    f('parent_of_failing', { chain: ['child', 'fine'], nodes: ['{ id: child, type: subflow, config: { flow: fails, inputs: { key: "{!key}" } } }', set('fine', 'fine'), set('child_failed', 'child_failed')],
      edges: ['{ id: fault, source: child, target: child_failed, type: fault }', '{ id: back, source: child_failed, target: done }'] }),
  ]);
}

for (const engine of FLOW_ENGINES) {
  describe(`flows: fault edges and errorHandling (${engine})`, () => {
    let rig: RulesApp;
    let admin: FetchHandler;
    let receiver: Awaited<ReturnType<typeof startReceiver>>;
    const run = async (name: string, key = `${name}-${Math.random().toString(36).slice(2, 8)}`) =>
      runUntil(admin, (await startFlow(admin, name, { key })).id, ['completed', 'failed'], 40_000);

    beforeAll(async () => {
      receiver = await startReceiver(2);
      rig = await startRulesApp({ engine, slug: `flow-errors-${engine.replace('+', '-')}`, extra: files(receiver.port), env: { OBJECTOS_WEBHOOK_ALLOW: 'loopback' } });
      admin = owner(rig);
    }, 120_000);
    afterAll(async () => {
      await rig?.close();
      await receiver?.close();
    });

    it('a failing node takes its fault edge (a 4xx answer)', async () => {
      const r = await run('fault_edge');
      expect(r.status).toBe('completed');
      expect(r.outputs).toEqual({ outcome: 'recovered' });
      expect(stepsByNode(r)['fetch']).toMatchObject({ status: 'failed', attempt: 1 });
      expect(stepsByNode(r)['fetch']!.error).toMatch(/answered 404/);
      expect(r.steps.map((s) => s.node)).toEqual(['start', 'fetch', 'recovered', 'done']);
    });

    it('fail: the run fails with the error recorded, naming the node; the step log says where', async () => {
      const r = await run('fails');
      expect(r.status).toBe('failed');
      expect(r.error).toMatch(/^bad \(update_record\) failed: /);
      expect(r.error).toContain(MISSING_ID);
      expect(r.steps.map((s) => `${s.node}:${s.status}`)).toEqual(['start:succeeded', 'bad:failed']);
      expect(r.nextNode).toBeNull();
    });

    it('retry: a 5xx is retried with backoff (retryDelayMs × backoffMultiplier^n), each attempt a step', async () => {
      const r = await run('retries');
      expect(r.status).toBe('completed');
      const calls = r.steps.filter((s) => s.node === 'call');
      expect(calls.map((s) => `${s.attempt}:${s.status}`)).toEqual(['1:failed', '2:failed', '3:succeeded']);
      expect(calls[0]!.error).toMatch(/answered 503/);
      const gap = (i: number) => Date.parse(calls[i + 1]!.startedAt) - Date.parse(calls[i]!.finishedAt!);
      expect(gap(0)).toBeGreaterThanOrEqual(280);
      expect(gap(1)).toBeGreaterThanOrEqual(580);
      expect(r.outputs).toEqual({ outcome: 'fine' });
    });

    it('retry: when the retries run out, the fault edge; a 4xx or a script error is not retried', async () => {
      const gaveUp = await run('retries_then_fault');
      expect(gaveUp.status).toBe('completed');
      expect(gaveUp.outputs).toEqual({ outcome: 'gave_up' });
      expect(gaveUp.steps.filter((s) => s.node === 'call').map((s) => `${s.attempt}:${s.status}`)).toEqual(['1:failed', '2:failed']);
      const final = await run('no_retry_on_4xx');
      expect(final.status).toBe('failed');
      expect(final.steps.filter((s) => s.node === 'call')).toHaveLength(1);
      const script = await run('script_fails', 'k1');
      expect(script.status).toBe('failed');
      expect(script.steps.filter((s) => s.node === 'boom')).toHaveLength(1);
      expect(script.error).toContain('boom k1');
    });

    it('continue: the step is recorded failed and the run goes on along the normal edge', async () => {
      const r = await run('continues');
      expect(r.status).toBe('completed');
      expect(r.outputs).toEqual({ outcome: 'went_on' });
      expect(r.steps.map((s) => `${s.node}:${s.status}`)).toEqual(['start:succeeded', 'bad:failed', 'after:succeeded', 'done:succeeded']);
    });

    it('fallbackNodeId: a failure jumps to the fallback node', async () => {
      const r = await run('falls_back');
      expect(r.status).toBe('completed');
      expect(r.outputs).toEqual({ outcome: 'cleaned' });
      expect(r.steps.map((s) => `${s.node}:${s.status}`)).toEqual(['start:succeeded', 'bad:failed', 'cleanup:succeeded', 'done2:succeeded']);
    });

    it("a node's timeoutMs bounds it: over time, it fails (here to its fault edge)", async () => {
      const r = await run('times_out');
      expect(r.outputs).toEqual({ outcome: 'too_slow' });
      expect(stepsByNode(r)['slow']!.error).toContain('did not finish within 500 ms');
      expect(stepsByNode(r)['slow']!.duration).toBeLessThan(2_500);
    });

    it("a subflow that fails is its node's failure in the parent (fault edge)", async () => {
      const r = await run('parent_of_failing');
      expect(r.status).toBe('completed');
      expect(r.outputs).toEqual({ outcome: 'child_failed' });
      expect(stepsByNode(r)['child']!.error).toMatch(/^subflow fails failed: bad \(update_record\) failed/);
    });
  });
}
