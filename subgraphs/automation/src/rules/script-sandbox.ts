import type { Sandbox } from '@objectos/sandbox';

export type { Sandbox, ScriptResult } from '@objectos/sandbox';

/**
 * A script sandbox (QuickJS in worker threads), loaded when first asked for: WebAssembly that costs
 * memory and start-up time, so a process without scripts never loads it. For other modules (the
 * workflow subgraph's script nodes) that run scripts the way custom_script actions do.
 */
export const loadSandbox = (): Promise<Sandbox> => import('@objectos/sandbox').then((m) => m.createSandbox());
