import type { StreamInfo, StreamSink } from '../../src/pipeline/sink.js';
import type { StreamEvent } from '../../src/types.js';

/**
 * A StreamSink that keeps what the pipeline wrote to it, in order. `behind()` makes its writes report a client that
 * is behind until `catchUp()`; `drained()` waits for that.
 */
export class RecordingSink implements StreamSink {
  /** Everything, in order: `accepted <deployment>`, `commit <deployment>`, then each event's type (`chunk!` with `now`). */
  readonly log: string[] = [];
  readonly accepts: StreamInfo[] = [];
  readonly commits: StreamInfo[] = [];
  readonly events: StreamEvent[] = [];
  private lagging = false;
  private waiting: (() => void)[] = [];

  accepted(info: StreamInfo): void {
    this.accepts.push(info);
    this.log.push(`accepted ${info.deployment}`);
  }

  commit(info: StreamInfo): void {
    this.commits.push(info);
    this.log.push(`commit ${info.deployment}`);
  }

  write(e: StreamEvent, now?: boolean): boolean {
    this.events.push(e);
    this.log.push(`${e.type}${now ? '!' : ''}`);
    return !this.lagging;
  }

  drained(): Promise<void> {
    if (!this.lagging) return Promise.resolve();
    this.log.push('waiting');
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  behind(): void {
    this.lagging = true;
  }

  catchUp(): void {
    this.lagging = false;
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }

  /** The text of the answer's chunks (OpenAI chunks' content), in order. */
  text(): string {
    let text = '';
    for (const e of this.events) {
      if (e.type === 'chunk') text += (JSON.parse(e.data) as { choices?: { delta?: { content?: string } }[] }).choices?.[0]?.delta?.content ?? '';
    }
    return text;
  }
}
