export { createWorkflowSubgraph, type WorkflowSubgraph, type WorkflowSubgraphOptions } from './create-workflow-subgraph.ts';
