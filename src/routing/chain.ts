import type { ErrorKind } from '../errors.js';
import type { Route } from './routes.js';

/**
 * Which model a request moves on to after one fails. The requested model's lists decide: a prompt that
 * does not fit goes to `context_window_fallbacks`, a content-filter refusal to `content_policy_fallbacks`,
 * other failures to `fallbacks`; a bad request goes back to the client (another model would refuse it too).
 * Each model is tried at most once per request, and at most `maxFallbacks` fallbacks are taken.
 */
export class ModelChain {
  private readonly tried = new Set<string>();
  private taken = 0;

  constructor(
    readonly primary: Route,
    private readonly routes: ReadonlyMap<string, Route>,
    private readonly maxFallbacks: number,
  ) {
    this.tried.add(primary.model.name);
  }

  /** The next model to try after a failure of `kind`, or undefined when the chain ends here. */
  next(kind: ErrorKind): Route | undefined {
    if (this.taken >= this.maxFallbacks) return undefined;
    for (const name of fallbackList(this.primary, kind)) {
      if (this.tried.has(name)) continue;
      const route = this.routes.get(name);
      if (!route) continue;
      this.tried.add(name);
      this.taken++;
      return route;
    }
    return undefined;
  }
}

export function fallbackList(route: Route, kind: ErrorKind): readonly string[] {
  switch (kind) {
    case 'bad_request':
    case 'payload_too_large':
    case 'budget':
      return [];
    case 'context_length':
      return route.model.context_window_fallbacks;
    case 'content_policy':
      return route.model.content_policy_fallbacks;
    default:
      return route.model.fallbacks;
  }
}
