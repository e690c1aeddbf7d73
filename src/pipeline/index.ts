export { Pipeline, PipelineFailure, type AttemptRecord, type GatewayRequest, type GatewayResult, type ResultMeta } from './pipeline.js';
