import {
  checkFit,
  clampOutput,
  countChatPromptTokensAsync,
  middleOut,
  PromptEstimate,
  promptBudget,
  requestedOutput,
  settledByBound,
  type Window,
} from './index.js';
import { GatewayError } from '../errors.js';

/**
 * What the planner needs of a client-facing model: its name, the models to try for a prompt too long for it, and
 * its deployments (`T`: routing's routed target; the planner only hands them back and asks for their windows).
 */
export interface FitRoute<T> {
  readonly model: { readonly name: string; readonly context_window_fallbacks: readonly string[] };
  readonly targets: readonly T[];
}

/** How a request goes to one model: which deployments it fits, and the body to send them (trimmed, clamped). */
export type FitPlan<T> =
  | { ok: true; allow?: (t: T) => boolean; body?: Record<string, unknown>; applied?: string[] }
  | { ok: false; error: GatewayError };

const OUTPUT_RESERVE = 4096;
const FITS = { ok: true } as const;

/**
 * The pre-call context check. A deployment whose window (catalog, or the target's `context_window`) cannot hold
 * the prompt estimate plus the requested output is left out of the plan: no upstream call that must fail.
 * With the `middle-out` transform a request that fits nowhere as is gets its `max_tokens` clamped to what the
 * window leaves, or, when the prompt itself is too long, its middle messages removed (context_window_fallbacks
 * that fit untouched are preferred: they lose nothing).
 */
export class Fitter<T extends object, R extends FitRoute<T> = FitRoute<T>> {
  private readonly windows = new WeakMap<T, Window>();
  private readonly tightest = new WeakMap<R, { context: number; input: number }>();

  /** `windowOf`: a deployment's window (the catalog's, or its target's `context_window`); asked once per target. */
  constructor(
    private readonly routes: ReadonlyMap<string, R>,
    private readonly windowOf: (t: T) => Window,
  ) {}

  window(t: T): Window {
    let w = this.windows.get(t);
    if (!w) {
      w = this.windowOf(t);
      this.windows.set(t, w);
    }
    return w;
  }

  /**
   * The models whose fit the byte bound cannot settle, for this model and its context_window_fallbacks: their
   * counts are what `plan` will need (count them with `estimate.prefetch` first, off the event loop's back).
   */
  unsettled(route: R, estimate: PromptEstimate): string[] {
    const output = requestedOutput(estimate.body);
    const models = new Set<string>();
    const consider = (t: T): void => {
      const w = this.window(t);
      if (!settledByBound(estimate, w, output)) models.add(w.model);
    };
    for (const t of route.targets) consider(t);
    for (const name of route.model.context_window_fallbacks) for (const t of this.routes.get(name)?.targets ?? []) consider(t);
    return [...models];
  }

  /** The smallest context window and input cap over the model's deployments (no limit: Infinity). */
  private limits(route: R): { context: number; input: number } {
    let limits = this.tightest.get(route);
    if (!limits) {
      limits = { context: Number.POSITIVE_INFINITY, input: Number.POSITIVE_INFINITY };
      for (const t of route.targets) {
        const w = this.window(t);
        limits.context = Math.min(limits.context, w.contextWindow ?? Number.POSITIVE_INFINITY);
        limits.input = Math.min(limits.input, w.maxInput ?? Number.POSITIVE_INFINITY);
      }
      this.tightest.set(route, limits);
    }
    return limits;
  }

  /** `plan`, counting first what the bound cannot settle (then a promise: the count gives the event loop turns). */
  fit(route: R, estimate: PromptEstimate, transform: boolean): FitPlan<T> | Promise<FitPlan<T>> {
    // The usual request: its byte bound is within the tightest limit of the model's deployments, so it fits every
    // one of them without a count (what `plan` would find; the fallbacks' counts are not needed then either).
    const limits = this.limits(route);
    const bound = estimate.upperBound();
    if (bound + (requestedOutput(estimate.body) ?? 1) <= limits.context && bound <= limits.input) return FITS;
    const unsettled = this.unsettled(route, estimate);
    if (unsettled.length === 0) return this.plan(route, estimate, transform);
    return estimate.prefetch(unsettled).then(() => this.plan(route, estimate, transform));
  }

  /** A promise only when middle-out runs (it counts what it removes and keeps in slices). */
  plan(route: R, estimate: PromptEstimate, transform: boolean): FitPlan<T> | Promise<FitPlan<T>> {
    const output = requestedOutput(estimate.body);
    const fitting = route.targets.filter((t) => checkFit(estimate, this.window(t), output).fits);
    if (fitting.length === route.targets.length) return { ok: true };
    if (fitting.length > 0) return { ok: true, allow: only(fitting) };
    if (transform) {
      // The prompt fits, the requested output does not: ask for what the window leaves.
      const promptFits = route.targets.filter((t) => checkFit(estimate, this.window(t), 1).fits);
      if (promptFits.length > 0 && output !== undefined) {
        const limit = Math.min(...promptFits.map((t) => clampOutput(estimate, this.window(t), output) ?? output));
        return { ok: true, allow: only(promptFits), body: withOutput(estimate.body, limit), applied: [`max_tokens clamped to ${limit}`] };
      }
      if (!this.anyFits(route.model.context_window_fallbacks, estimate)) {
        return this.trim(route, estimate, output).then((trimmed) => trimmed ?? { ok: false, error: this.tooLong(route, estimate, output) });
      }
    }
    return { ok: false, error: this.tooLong(route, estimate, output) };
  }

  /** Whether some deployment of these models takes the request as it is. */
  private anyFits(models: readonly string[], estimate: PromptEstimate): boolean {
    const output = requestedOutput(estimate.body);
    return models.some((name) => this.routes.get(name)?.targets.some((t) => checkFit(estimate, this.window(t), output).fits));
  }

  /** Middle-out against the model's largest known prompt budget, reserving the requested output (or 4,096). */
  private async trim(route: R, estimate: PromptEstimate, output: number | undefined): Promise<FitPlan<T> | undefined> {
    const reserveOf = (w: Window): number => Math.min(output ?? OUTPUT_RESERVE, w.maxOutput ?? OUTPUT_RESERVE);
    const budgetOf = (t: T): number => {
      const w = this.window(t);
      return w.contextWindow === undefined && w.maxInput === undefined ? 0 : promptBudget(w, reserveOf(w));
    };
    const largest = route.targets.reduce<T | undefined>((best, t) => (budgetOf(t) > (best ? budgetOf(best) : 0) ? t : best), undefined);
    if (!largest) return undefined;
    const w = this.window(largest);
    const reserve = reserveOf(w);
    const budget = budgetOf(largest);
    // Its counts (the whole prompt's is known already; each removed message; what is kept) run to the prompt's
    // length again: counted async, they share the process's per-turn counting budget, so the loop gets its turns.
    const count = (body: Record<string, unknown>) =>
      body === estimate.body ? estimate.tokens(w.model) : countChatPromptTokensAsync(body, w.model);
    const result = await middleOut(estimate.body, budget, count);
    if (!result) return undefined;
    const trimmed = new PromptEstimate(result.body, undefined);
    await trimmed.prefetch([...new Set(route.targets.map((t) => this.window(t).model))]);
    const fitting = route.targets.filter((t) => checkFit(trimmed, this.window(t), output ?? reserve).fits);
    if (fitting.length === 0) return undefined;
    const applied = [`middle-out removed ${result.removed} message(s)${result.truncated ? ' and cut one' : ''}`];
    return { ok: true, allow: only(fitting), body: output === undefined ? result.body : withOutput(result.body, reserve), applied };
  }

  private tooLong(route: R, estimate: PromptEstimate, output: number | undefined): GatewayError {
    const windows = route.targets.map((t) => this.window(t));
    const room = (w: Window): number => promptBudget(w, output ?? 0);
    const largest = windows.reduce((best, w) => (room(w) > room(best) ? w : best));
    const prompt = estimate.tokens(largest.model);
    const need = prompt + (output ?? 0);
    const fallbacks = route.model.context_window_fallbacks;
    // The prompt alone over the input cap, or prompt and output over the window.
    const capped = largest.maxInput !== undefined && prompt > largest.maxInput;
    const limit = capped
      ? `more than model "${route.model.name}" takes as input (${fmt(largest.maxInput ?? 0)} tokens of its ${fmt(largest.contextWindow ?? 0)}-token window)`
      : `more than the context window of model "${route.model.name}" (${fmt(largest.contextWindow ?? 0)} tokens)`;
    return new GatewayError(
      'context_length',
      `This request needs about ${fmt(need)} tokens (prompt ≈ ${fmt(prompt)}${output !== undefined ? ` + max_tokens ${fmt(output)}` : ''}), ` +
        limit +
        (fallbacks.length > 0 ? `; its context_window_fallbacks (${fallbacks.join(', ')}) do not fit it either` : '') +
        '. Shorten the messages, lower max_tokens, or send x-lifeline-transforms: middle-out.',
      { code: 'context_length_exceeded', param: 'messages', retryable: false },
    );
  }
}

function only<T>(targets: readonly T[]): (t: T) => boolean {
  const set = new Set(targets);
  return (t) => set.has(t);
}

function withOutput(body: Record<string, unknown>, limit: number): Record<string, unknown> {
  const field = body.max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens';
  return { ...body, [field]: limit };
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}
