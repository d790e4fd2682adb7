export { createMetricsSubgraph, type MetricsSubgraph, type MetricsSubgraphOptions } from './create-metrics-subgraph.ts';
export { combinedSource, kernelSource, worse, type ComponentHealth, type MetricsSource, type ProcessStartup } from './source.ts';
export { healthTargets, remoteSource, type RemoteProcess } from './remote.ts';
