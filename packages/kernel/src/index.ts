export { createKernel, dependencyOrder, formatStartupReport, KernelStartupError, type Kernel, type KernelOptions, type Plugin, type PluginCheck, type PluginContext } from './kernel.ts';
export * from './manifest.ts';
