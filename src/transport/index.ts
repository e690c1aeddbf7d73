export { Transport, mapTransportError, type SendOptions, type UpstreamResponse } from './transport.js';
export * from './types.js';
