export { createAutomationSubgraph, type AutomationSubgraph, type AutomationSubgraphOptions } from './create-automation-subgraph.ts';
export { runtimeFromEnv } from './process-env.ts';
export { createJobRuntime, deliveryConfigFromEnv, type DeliveryConfig, type JobRuntime, type JobRuntimeOptions } from './runtime.ts';
export { createDataClient, DataRefusal, type DataClient, type RunAs, type TransitionGrant } from './rules/data-client.ts';
export { queueStateActions, STATE_ACTION_QUEUE, type TakenTransition } from './rules/state-actions.ts';
