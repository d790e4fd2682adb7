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

/** The version of every plugin ObjectOS ships (they are released together). */
export const OBJECTOS_VERSION = '0.1.0';

export const v = (version: string): SemanticVersion => {
  const [major = 0, minor = 0, patch = 0] = version.split('.').map((n) => Number.parseInt(n, 10) || 0);
  return { major, minor, patch };
};

export interface ManifestSpec {
  name: string;
  version: string;
  /** Protocols implemented fully (ids like `com.objectos.protocol.graphql-subgraph.v1`). */
  implements?: string[];
  provides: Array<{ id: string; name: string; methods?: string[]; events?: string[] }>;
  /** Plugin names required; `{ pluginId, optional: true }` for one the plugin can run without. */
  requires?: Array<string | { pluginId: string; optional: boolean }>;
  security?: Omit<PluginSecurityManifest, 'pluginId'>;
}

/** A manifest from its essentials (ObjectOS's own plugins are verified, stable, their protocols v1). */
export function pluginManifest(spec: ManifestSpec): PluginManifest {
  const version = v(spec.version);
  return {
    capabilities: {
      implements: (spec.implements ?? []).map((id) => ({ protocol: { id, version: { major: 1, minor: 0, patch: 0 } }, conformance: 'full' })),
      provides: spec.provides.map((p) => ({
        id: p.id, name: p.name, version, stability: 'stable',
        ...(p.methods ? { methods: p.methods.map((name) => ({ name, async: true })) } : {}),
        ...(p.events ? { events: p.events } : {}),
      })),
      requires: (spec.requires ?? []).map((r) => (typeof r === 'string' ? { pluginId: r, version: `^${spec.version}`, optional: false } : { ...r, version: `^${spec.version}` })),
    },
    ...(spec.security ? { security: { pluginId: spec.name, ...spec.security } } : {}),
  };
}
