export { createWorkflowSubgraph, type WorkflowSubgraph, type WorkflowSubgraphOptions } from './create-workflow-subgraph.ts';
export { createFlowRuntime, type FlowRuntime, type FlowRuntimeOptions } from './flows/flow-runtime.ts';
export { registerApprovalHandlers } from './approvals/runtime.ts';
