export { createAutomationSubgraph, type AutomationSubgraph, type AutomationSubgraphOptions } from './create-automation-subgraph.ts';
export { runtimeFromEnv } from './process-env.ts';
export { createJobRuntime, deliveryConfigFromEnv, type DeliveryConfig, type JobRuntime, type JobRuntimeOptions } from './runtime.ts';
