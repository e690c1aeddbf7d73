export { Pipeline, PipelineFailure, type AttemptRecord, type GatewayRequest, type GatewayResult, type ResultMeta, type StreamAccepted } from './pipeline.js';
export { attemptsSettled } from './attempt.js';
