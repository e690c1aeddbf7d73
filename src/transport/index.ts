export {
  Transport,
  mapTransportError,
  proxyFromEnv,
  type EnvProxy,
  type TransportOptions,
} from './transport.js';
export type { TlsOptions } from './connector.js';
