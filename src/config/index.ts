export type {
  Config,
  LoggingConfig,
  ModelConfig,
  ProviderConfig,
  ProviderType,
  RetryPolicy,
  ServerConfig,
  TargetConfig,
  Timeouts,
} from './types.js';
export { ConfigError, formatPath } from './errors.js';
export type { ConfigIssue, ConfigPath } from './errors.js';
export { loadConfigFile, parseConfig, resolveConfig } from './load.js';
export { describeConfig } from './describe.js';
export { interpolateEnv, interpolateString } from './interpolate.js';
export type { Env, Interpolated } from './interpolate.js';
export { ConfigSchema, DEFAULTS, LOG_LEVELS, PROVIDER_TYPES } from './schema.js';
export type { ConfigInput } from './schema.js';
