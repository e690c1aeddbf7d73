import { resolveModelInfo } from '../accounting/catalog.js';
import type { Window } from '../context/index.js';
import type { RoutedTarget } from '../routing/routes.js';

/** A deployment's context window, max output and input cap: its target's config, else the model catalog's. */
export function targetWindow(t: RoutedTarget): Window {
  const info = resolveModelInfo(t.deployment.provider.type, t.target);
  return { model: t.deployment.model, contextWindow: info.context_window, maxOutput: info.max_output_tokens, maxInput: info.max_input_tokens };
}
