import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { instrumentListener } from './http-instrument.ts';
import { metricsRoute, metricsSettingsFromEnv } from './metrics.ts';
import { serveOperations, type OperationsServer } from './operations-server.ts';

/**
 * Liveness and readiness of one process (`/health`, `/ready`).
 *
 * - `/health`: the process is alive and its event loop answers. 200, cheap, no dependency checked.
 * - `/ready`: the process should get traffic now. Components register checks (the database, Redis,
 *   the gateway's subgraphs); each runs concurrently with a timeout on every probe. Not ready while
 *   the process is starting (migrations, composition), as soon as shutdown begins, or when any check
 *   is `unhealthy`. `degraded` still serves (200) and says so.
 *
 * The body is `{ status, checks: [{ name, status, message? }] }`, the same on 200 and 503. Messages
 * are the check's own words, or a thrown error's with addresses and URLs cut out: no secrets, no URLs.
 */
export type CheckStatus = 'healthy' | 'degraded' | 'unhealthy';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  message?: string;
}

/** What a check returns: nothing (healthy), or a status and message; a throw is `unhealthy`. */
export type CheckOutcome = void | undefined | { status: CheckStatus; message?: string };

/** A check; `signal` aborts when the probe's timeout passed (what it still does is ignored). */
export type ReadinessCheck = (signal: AbortSignal) => Promise<CheckOutcome> | CheckOutcome;

export interface ReadinessReport {
  status: CheckStatus;
  checks: CheckResult[];
}

export type Lifecycle = 'starting' | 'running' | 'stopping';

export interface Readiness {
  /** Adds a check; returns its removal. Names are unique in a process. */
  register(name: string, check: ReadinessCheck): () => void;
  /** Startup finished (migrations run, everything composed): ready when every check passes. */
  started(): void;
  /** Shutdown began: not ready from now on, whatever the checks say. */
  stopping(): void;
  readonly lifecycle: Lifecycle;
  /** Runs every check now (probes arriving together share one run). */
  report(): Promise<ReadinessReport>;
  /** `GET /health` and `GET /ready` as fetch responses; null for any other request. */
  respond(request: Request): Promise<Response> | null;
}

export interface ReadinessOptions {
  /** Per check, in ms: a hung dependency answers `unhealthy` after this long. @default 1500 */
  timeoutMs?: number;
}

/** Cuts what could reveal where a dependency lives or how to log in to it. */
export function redact(message: string): string {
  return message
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s)'"]+/gi, '<url>')
    .replace(/\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b/g, '<address>')
    .replace(/\[[0-9a-f:]+\](?::\d+)?/gi, '<address>')
    .slice(0, 200);
}

const NO_STORE = { 'cache-control': 'no-store' };
const LIFECYCLE_MESSAGE: Record<Lifecycle, string | undefined> = {
  starting: 'starting: migrations and composition not finished',
  running: undefined,
  stopping: 'shutting down',
};

export function createReadiness(options: ReadinessOptions = {}): Readiness {
  const timeoutMs = options.timeoutMs ?? 1_500;
  const checks = new Map<string, ReadinessCheck>();
  let lifecycle: Lifecycle = 'starting';
  let inFlight: Promise<ReadinessReport> | null = null;

  // A check still running past its timeout (a hung database) is waited on again, not started again:
  // probes every few seconds must not pile statements or connections onto what does not answer.
  const running = new Map<string, { ran: Promise<CheckResult>; controller: AbortController }>();
  const start = (name: string, check: ReadinessCheck) => {
    const controller = new AbortController();
    // Started on the next tick, so even a check that throws at once settles after it was recorded.
    const ran: Promise<CheckResult> = Promise.resolve()
      .then(() => check(controller.signal))
      .then(
        (outcome): CheckResult => (outcome && typeof outcome.status === 'string'
          ? { name, status: outcome.status, ...(outcome.message ? { message: redact(outcome.message) } : {}) }
          : { name, status: 'healthy' }),
        (e: unknown): CheckResult => ({ name, status: 'unhealthy', message: redact(e instanceof Error && e.message ? e.message : String(e)) }),
      )
      .finally(() => {
        if (running.get(name) === entry) running.delete(name);
      });
    const entry = { ran, controller };
    running.set(name, entry);
    return entry;
  };

  const runOne = async (name: string, check: ReadinessCheck): Promise<CheckResult> => {
    const { ran, controller } = running.get(name) ?? start(name, check);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<CheckResult>((resolve) => {
      timer = setTimeout(() => {
        controller.abort();
        resolve({ name, status: 'unhealthy', message: `no answer within ${timeoutMs} ms` });
      }, timeoutMs);
    });
    try {
      return await Promise.race([ran, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  };

  const run = async (): Promise<ReadinessReport> => {
    const state: CheckResult = { name: 'lifecycle', status: lifecycle === 'running' ? 'healthy' : 'unhealthy' };
    const message = LIFECYCLE_MESSAGE[lifecycle];
    if (message) state.message = message;
    // While stopping, what the checks use may be closing: they are not run.
    const results = lifecycle === 'stopping' ? [] : await Promise.all([...checks].map(([name, check]) => runOne(name, check)));
    const all = [state, ...results];
    const status: CheckStatus = all.some((c) => c.status === 'unhealthy') ? 'unhealthy' : all.some((c) => c.status === 'degraded') ? 'degraded' : 'healthy';
    return { status, checks: all };
  };

  const readiness: Readiness = {
    register(name, check) {
      if (checks.has(name) || name === 'lifecycle') throw new Error(`readiness check "${name}" is already registered`);
      checks.set(name, check);
      return () => void checks.delete(name);
    },
    started() {
      if (lifecycle === 'starting') lifecycle = 'running';
    },
    stopping() {
      lifecycle = 'stopping';
    },
    get lifecycle() {
      return lifecycle;
    },
    report() {
      inFlight ??= run().finally(() => (inFlight = null));
      return inFlight;
    },
    respond(request) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return null;
      const path = new URL(request.url).pathname;
      if (path === '/health') return Promise.resolve(Response.json({ status: 'alive' }, { headers: NO_STORE }));
      if (path !== '/ready') return null;
      return readiness.report().then((r) => Response.json(r, { status: r.status === 'unhealthy' ? 503 : 200, headers: NO_STORE }));
    },
  };
  return readiness;
}

/**
 * A node:http listener answering `/health` and `/ready` itself (before any guard of the app) and
 * handing every other request to `app`. Until `app` is given (the process is still starting), those
 * get 503, so a process can listen, and answer its probes, while it migrates.
 */
export interface ProbeListener {
  listener: RequestListener;
  /** The application, once it is ready to take requests. */
  serve(app: RequestListener): void;
}

export interface ProbeListenerOptions {
  /** The `service` label of its HTTP metrics (instrumentListener). @default 'subgraph' */
  service?: string;
  /** `GET /metrics` here with this bearer token (OBJECTOS_METRICS_TOKEN); 404 without one. */
  metricsToken?: string;
}

export function probeListener(readiness: Readiness, options: ProbeListenerOptions = {}): ProbeListener {
  let app: RequestListener | null = null;
  const access = options.metricsToken ? { token: options.metricsToken } : {};
  const send = (res: ServerResponse, method: string, response: Response): Promise<void> =>
    response.text().then((body) => {
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(method === 'HEAD' ? undefined : body);
    });
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    if ((method === 'GET' || method === 'HEAD') && (path === '/health' || path === '/ready')) {
      void readiness.respond(new Request(`http://probe${path}`, { method }))!.then((response) => send(res, method, response));
      return;
    }
    // Metrics before the application and its guard (a subgraph refuses unsigned requests): the token decides.
    if (path === '/metrics') {
      const authorization = req.headers.authorization;
      const answered = metricsRoute(new Request(`http://probe${path}`, { method, ...(authorization ? { headers: { authorization } } : {}) }), access);
      if (answered) {
        void answered.then((response) => send(res, method, response));
        return;
      }
    }
    if (app) return void app(req, res);
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
    res.end(JSON.stringify({ errors: [{ message: 'starting', extensions: { code: 'SERVICE_UNAVAILABLE' } }] }));
  };
  return { listener: instrumentListener(options.service ?? 'subgraph', listener), serve: (next) => void (app = next) };
}

/**
 * A separately run process's probes, listening at once on `port`: `/health` answers while it migrates,
 * `/ready` once `readiness.started()`, its API once `probes.serve(app)` (503 before). Its HTTP requests
 * are counted as `service`; `/metrics` is served with OBJECTOS_METRICS_TOKEN, and an operations port
 * (OBJECTOS_METRICS_PORT) is opened beside it, closed when `server` closes.
 */
export async function listenWithProbes(port: number, host: string, service = 'subgraph'): Promise<{ readiness: Readiness; probes: ProbeListener; server: Server; operations: OperationsServer | null }> {
  const settings = metricsSettingsFromEnv();
  const readiness = createReadiness();
  const probes = probeListener(readiness, { service, ...(settings.token ? { metricsToken: settings.token } : {}) });
  const server = createServer(probes.listener);
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  const operations = await serveOperations(server, settings, readiness).catch((e: unknown) => {
    server.close();
    throw e;
  });
  return { readiness, probes, server, operations };
}
