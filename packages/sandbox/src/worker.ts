import { parentPort } from 'node:worker_threads';
import { createEngine } from './engine.ts';
import { DEFAULT_MEMORY_BYTES, type RunRequest, type WorkerMessage } from './types.ts';

/** Worker thread entry (started by sandbox.ts): runs one request at a time, answers with its reply. */
const port = parentPort;
if (port === null) throw new Error('@objectos/sandbox: worker.ts runs as a worker thread');

const engine = createEngine();
await engine.warm(DEFAULT_MEMORY_BYTES);

port.on('message', (request: RunRequest) => {
  void engine.run(request).then(
    (reply) => port.postMessage({ type: 'reply', reply } satisfies WorkerMessage),
    (error: unknown) => {
      const text = error instanceof Error ? error.message : String(error);
      const message = `the sandbox engine failed (${text})`;
      port.postMessage({ type: 'reply', reply: { id: request.id, ok: false, code: 'SCRIPT_ERROR', message, logs: [], fault: text } } satisfies WorkerMessage);
    },
  );
});
port.postMessage({ type: 'ready' } satisfies WorkerMessage);
