export { createAutomationSubgraph, type AutomationSubgraph, type AutomationSubgraphOptions } from './create-automation-subgraph.ts';
export { jobsFromEnvPlugin, runtimeFromEnv, type RuntimeFromEnvOptions } from './process-env.ts';
export { createJobRuntime, deliveryConfigFromEnv, type DeliveryConfig, type JobRuntime, type JobRuntimeOptions } from './runtime.ts';
export { createDataClient, DataRefusal, type DataClient, type RunAs, type TransitionGrant, type WriteEffect } from './rules/data-client.ts';
export { MAX_DEPTH } from './rules/engine.ts';
export { FLOW_START_JOBS, FLOW_START_QUEUE, type FlowChangeStart, type FlowScheduleStart, type FlowStartJob } from './rules/flow-hand-over.ts';
export { ActionFailure, connectorRequest, sendOutbound, type OutboundRequest } from './rules/outbound.ts';
export { loadSandbox, type Sandbox, type ScriptResult } from './rules/script-sandbox.ts';
export { approvalPoint, queueApprovalActions, queueStateActions, STATE_ACTION_QUEUE, type TakenTransition } from './rules/state-actions.ts';
