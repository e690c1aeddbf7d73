export { Pipeline, PipelineFailure, type AttemptRecord, type GatewayRequest, type GatewayResult, type ResultMeta, type StreamInfo, type StreamSink } from './pipeline.js';
export { attemptsSettled } from './attempt.js';
