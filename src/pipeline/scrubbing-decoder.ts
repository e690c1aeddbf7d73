import type { StreamDecoder } from '../providers/adapter.js';
import type { Secrets } from '../secrets.js';
import type { StreamEvent } from '../types.js';

/** `decoder` with exact secrets scrubbed from the chunks it decodes (a success stream's text). */
export function scrubbingDecoder(decoder: StreamDecoder, secrets: Secrets): StreamDecoder {
  if (secrets.size === 0) return decoder;
  const scrub = (events: StreamEvent[]): StreamEvent[] => {
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (e.type !== 'chunk') continue;
      const data = secrets.scrubExact(e.data);
      if (data !== e.data) events[i] = { ...e, data };
    }
    return events;
  };
  const scrubbing: StreamDecoder = { decode: (frame) => scrub(decoder.decode(frame)) };
  const end = decoder.end?.bind(decoder);
  if (end) scrubbing.end = () => scrub(end());
  return scrubbing;
}
