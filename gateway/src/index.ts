export { createGateway, type Gateway, type GatewayOptions, type SubgraphSource } from './create-gateway.ts';
export { composeSupergraph, CompositionError, type SubgraphSdl } from '@objectos/schema';
export { readConfig, type ObjectOSConfig } from './config.ts';
export { startObjectOS, type RunningObjectOS } from './start.ts';
export { attachRealtime, type Realtime, type RealtimeOptions } from './realtime/ws-server.ts';
