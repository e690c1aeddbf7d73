export {
  Transport,
  mapTransportError,
  proxyFromEnv,
  type EnvProxy,
  type SendOptions,
  type TransportOptions,
  type UpstreamResponse,
} from './transport.js';
export type { TlsOptions } from './connector.js';
