export type { RawBody } from '../providers/types.js';
export { Pipeline, PipelineFailure, type AttemptRecord, type GatewayRequest, type GatewayResult, type ResultMeta } from './pipeline.js';
export { attemptsSettled } from './attempt.js';
