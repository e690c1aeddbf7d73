export { countChatPromptTokens, renderFunctions } from './chat.js';
export { countChatPromptTokensAsync, countTextTokensAsync } from './count-async.js';
export {
  audioTokens,
  DEFAULT_IMAGE_SIZE,
  fileTokens,
  IMAGE_BASE_TOKENS,
  IMAGE_TILE_TOKENS,
  imageSizeFromDataUrl,
  imageTokens,
  openAIImageTokens,
  PDF_PAGE_TOKENS,
} from './media.js';
export type { ImageDetail, ImageSize } from './media.js';
export {
  applyMargin,
  countEncodedTokens,
  countTextTokens,
  encodingFor,
  normalizeModelName,
  preloadEncoding,
} from './tokens.js';
export type { EncodingChoice, EncodingName, ModelFamily } from './tokens.js';
export { checkFit, clampOutput, type FitCheck, PromptEstimate, promptBudget, requestedOutput, settledByBound, type Window } from './fit.js';
export { type CountPrompt, middleOut, type MiddleOutResult } from './middle-out.js';
