/**
 * `streamGenerateContent?alt=sse` → OpenAI `chat.completion.chunk`s. Each SSE event is a whole
 * GenerateContentResponse holding the next piece of text (or whole function calls). Gemini sends no terminal
 * event: the finish reason rides on the last piece, usage on every piece (cumulative), and the stream just
 * ends — so the finish chunk, the usage chunk and `done` come from `end()`, and only if a finish reason was seen
 * (a stream that ends without one was cut, and the pipeline must see it as truncated).
 */
import { malformed } from '../shared/errors.js';
import { geminiStreamError, promptBlocked } from './errors.js';
import {
  blockedPrompt,
  candidatesOf,
  completionId,
  finishReason,
  modelOf,
  newIdPrefix,
  readParts,
  toUsage,
} from './response.js';
import type { Deployment, StreamEvent, StreamFrame } from '../../types.js';
import type { StreamDecoder } from '../adapter.js';

type Json = Record<string, unknown>;

interface ChoiceState {
  /** Tool calls so far: the next call's `index`. */
  calls: number;
  /** Gemini's finish reason, once seen. */
  finish?: unknown;
}

export class GeminiStreamDecoder implements StreamDecoder {
  private head: { id: string; created: number; model: string } | undefined;
  private readonly choices = new Map<number, ChoiceState>();
  private readonly idPrefix = newIdPrefix();
  private callNumber = 0;
  private usage: Json | undefined;
  private failed = false;

  constructor(private readonly d: Deployment) {}

  decode(frame: StreamFrame): StreamEvent[] {
    if (this.failed) return [];
    let response: unknown;
    try {
      response = JSON.parse(frame.data);
    } catch {
      return this.fail(malformed(this.d, 'a stream event that is not JSON'));
    }
    if (Array.isArray(response)) response = response[0]; // an error in the array form some proxies pass through
    if (!response || typeof response !== 'object') return this.fail(malformed(this.d, 'a stream event that is not an object'));
    const r = response as Json;
    if (r.error && typeof r.error === 'object') return this.fail(geminiStreamError(r.error, this.d));
    if (r.usageMetadata) this.usage = toUsage(r.usageMetadata);
    const candidates = candidatesOf(r);
    if (candidates.length === 0) {
      const blocked = blockedPrompt(r);
      return blocked ? this.fail(promptBlocked(blocked, this.d)) : [];
    }
    this.head ??= { id: completionId(r), created: Math.floor(Date.now() / 1000), model: modelOf(r, this.d) };
    const events: StreamEvent[] = [];
    candidates.forEach((candidate, i) => {
      const index = typeof candidate.index === 'number' ? candidate.index : i;
      let state = this.choices.get(index);
      if (!state) {
        state = { calls: 0 };
        this.choices.set(index, state);
        events.push(this.chunk(index, { role: 'assistant', content: '' }));
      }
      const { text, calls } = readParts(candidate.content, this.idPrefix, () => this.callNumber++);
      if (text !== '') events.push(this.chunk(index, { content: text }));
      if (calls.length > 0) {
        const tool_calls = calls.map((call) => ({ index: state.calls++, ...call }));
        events.push(this.chunk(index, { tool_calls }));
      }
      if (candidate.finishReason !== undefined && candidate.finishReason !== 'FINISH_REASON_UNSPECIFIED') {
        state.finish = candidate.finishReason;
      }
    });
    return events;
  }

  end(): StreamEvent[] {
    if (this.failed) return [];
    const finished = [...this.choices].filter(([, s]) => s.finish !== undefined);
    if (finished.length === 0) return [];
    const events: StreamEvent[] = finished.map(([index, s]) => this.chunk(index, {}, finishReason(s.finish, s.calls > 0)));
    if (this.usage) events.push({ type: 'chunk', data: JSON.stringify({ ...this.base(), choices: [], usage: this.usage }) });
    events.push({ type: 'done' });
    return events;
  }

  private base(): Json {
    const head = this.head ?? { id: `chatcmpl-${this.idPrefix}`, created: Math.floor(Date.now() / 1000), model: this.d.model };
    return { id: head.id, object: 'chat.completion.chunk', created: head.created, model: head.model };
  }

  private chunk(index: number, delta: Json, finish: string | null = null): StreamEvent {
    const data = { ...this.base(), choices: [{ index, delta, logprobs: null, finish_reason: finish }] };
    return { type: 'chunk', data: JSON.stringify(data) };
  }

  private fail(error: ReturnType<typeof malformed>): StreamEvent[] {
    this.failed = true;
    return [{ type: 'error', error }];
  }
}
