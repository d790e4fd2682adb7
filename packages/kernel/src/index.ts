export { createKernel, dependencyOrder, formatStartupReport, KernelStartupError, type Kernel, type KernelOptions, type Plugin, type PluginCheck, type PluginContext } from './kernel.ts';
export * from './manifest.ts';
export { definePlugin, type PluginDefinition } from './define.ts';
export { runProcess, type ProcessSpec } from './process.ts';
export { closeGracefully, isEventStream, trackInFlight, type InFlight } from './shutdown.ts';
