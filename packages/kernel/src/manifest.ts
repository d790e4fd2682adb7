/**
 * The spec's kernel vocabulary (objectstack-spec §4): what a plugin declares it provides and needs,
 * what it may do, how it reports its health and how its start went.
 */
export interface SemanticVersion {
  major: number;
  minor: number;
  patch: number;
}

export type Conformance = 'full' | 'partial' | 'experimental' | 'deprecated';
export type Stability = 'stable' | 'beta' | 'alpha' | 'experimental';

/** `PluginCapabilityManifest` (kernel/plugin-capability.zod.ts). */
export interface PluginCapabilityManifest {
  implements: Array<{ protocol: { id: string; version: SemanticVersion }; conformance: Conformance }>;
  provides: Array<{ id: string; name: string; version: SemanticVersion; methods?: Array<{ name: string; async: boolean }>; events?: string[]; stability: Stability }>;
  /** Other plugins this one needs started first; an `optional` one may be missing or have failed. */
  requires: Array<{ pluginId: string; version: string; optional: boolean }>;
  extensionPoints?: Array<{ id: string; type: 'action' | 'hook' | 'widget' | 'provider' | 'transformer' | 'validator' | 'decorator'; cardinality: 'single' | 'multiple' }>;
  extensions?: Array<{ extensionPointId: string; implementation: string }>;
}

export type TrustLevel = 'verified' | 'trusted' | 'community' | 'untrusted' | 'blocked';
export type PermissionResource = 'data.object' | 'data.record' | 'data.field' | 'network.http' | 'network.smtp' | 'system.queue' | 'system.process' | 'code.execute';
export type PermissionAction = 'create' | 'read' | 'update' | 'delete' | 'execute' | 'send' | 'connect';

/**
 * `PluginSecurityManifest` (kernel/plugin-security-advanced.zod.ts): required of plugins that run
 * user code (scripts, flows) or call the network (webhooks, mail, connectors).
 */
export interface PluginSecurityManifest {
  pluginId: string;
  trustLevel: TrustLevel;
  permissions: {
    permissions: Array<{ resource: PermissionResource; actions: PermissionAction[]; scope: string; description?: string }>;
    defaultGrant: 'prompt' | 'allow' | 'deny' | 'inherit';
  };
  sandbox: { enabled: boolean; level: 'none' | 'minimal' | 'standard' | 'strict' | 'paranoid'; description?: string };
  policy?: { networkAllowList?: string; description?: string };
}

export interface PluginManifest {
  capabilities: PluginCapabilityManifest;
  security?: PluginSecurityManifest;
}

export type PluginHealthStatus = 'healthy' | 'degraded' | 'unhealthy' | 'failed' | 'recovering' | 'unknown';

/** `PluginHealthReport` (kernel/plugin-lifecycle-advanced.zod.ts). */
export interface PluginHealthReport {
  status: PluginHealthStatus;
  timestamp: string;
  message?: string;
  metrics?: { uptime: number; memoryUsage?: number; errorRate?: number; responseTime?: number };
  checks: Array<{ name: string; status: 'passed' | 'failed' | 'warning'; message?: string }>;
  dependencies: Array<{ pluginId: string; status: PluginHealthStatus }>;
}

/** `PluginStartupResult` (kernel/startup-orchestrator.zod.ts). */
export interface PluginStartupResult {
  plugin: { name: string; version: string };
  success: boolean;
  /** ms, init and start together. */
  duration: number;
  /** Marked optional: its failure degrades the process instead of stopping it. */
  optional: boolean;
  error?: { name: string; message: string; code?: string };
  health?: { healthy: boolean; timestamp: string };
}

export const v = (version: string): SemanticVersion => {
  const [major = 0, minor = 0, patch = 0] = version.split('.').map((n) => Number.parseInt(n, 10) || 0);
  return { major, minor, patch };
};
