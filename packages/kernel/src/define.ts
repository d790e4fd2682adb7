import type { Plugin } from './kernel.ts';
import { pluginManifest, type ManifestSpec } from './manifest.ts';

/** A plugin without its manifest, and what the manifest is built from. */
export type PluginDefinition = Omit<Plugin, 'manifest'> & Pick<ManifestSpec, 'provides' | 'requires' | 'security' | 'implements'> & { provides?: ManifestSpec['provides'] };

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
