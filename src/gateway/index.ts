/** The tandem gateway: start it in-process with startGateway(), or as a process with main.ts. */
export { startGateway, type Gateway, type GatewayOptions } from './server';
export { stateFilePath, type GatewayState } from './state-file';
export { MetricName } from './metrics';
export { VERSION_HEADER, SERVED_BY_HEADER } from './routes';
