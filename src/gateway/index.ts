/** The tandem gateway: start it in-process with startGateway(), or as a process with `tandem gateway` (main.ts). */
export { startGateway, type Gateway, type GatewayOptions } from './server';
export { stateFilePath, type GatewayState } from './state-file';
export { adminTokenPath, defaultStateDir, resolveAdminToken, type AdminToken } from './admin-token';
export { GatewayMetric } from '../naming/metrics';
export { VERSION_HEADER, SERVED_BY_HEADER } from '../naming/headers';
