import type { Plugin, PluginCheck, PluginContext } from './kernel.ts';
import { pluginManifest, type ManifestSpec } from './manifest.ts';

export interface PluginDefinition {
  name: string;
  version: string;
  provides?: ManifestSpec['provides'];
  implements?: string[];
  requires?: ManifestSpec['requires'];
  security?: ManifestSpec['security'];
  optional?: boolean;
  timeoutMs?: number;
  init?(ctx: PluginContext): Promise<void> | void;
  start?(ctx: PluginContext): Promise<void> | void;
  destroy?(): Promise<void> | void;
  healthCheck?(): Promise<PluginCheck> | PluginCheck;
}

/** A plugin from its essentials: the manifest is built from `provides`/`requires`/`security`. */
export function definePlugin(d: PluginDefinition): Plugin {
  const { provides, requires, security, implements: impl, ...rest } = d;
  return {
    ...rest,
    manifest: pluginManifest({
      name: d.name, version: d.version, provides: provides ?? [{ id: `com.objectos.service.${d.name}`, name: d.name }],
      ...(impl ? { implements: impl } : {}), ...(requires ? { requires } : {}), ...(security ? { security } : {}),
    }),
  };
}
