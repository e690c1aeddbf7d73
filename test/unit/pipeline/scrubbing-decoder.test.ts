// pipeline/scrubbing-decoder.ts: a success stream's chunks leave the gateway without the provider's exact secrets.
import { describe, expect, it } from 'vitest';
import { scrubbingDecoder } from '../../../src/pipeline/scrubbing-decoder.js';
import type { StreamDecoder } from '../../../src/providers/adapter.js';
import { Secrets } from '../../../src/secrets.js';

const API_KEY = 'sk-u8jzPde0IgxLd6GncfBAepfJB';

describe('scrubbingDecoder', () => {
  const secrets = new Secrets([API_KEY]);
  const inner: StreamDecoder = {
    decode: (frame) => [{ type: 'chunk', data: frame.data, event: 'e' }, { type: 'done' }],
    end: () => [{ type: 'chunk', data: `end ${API_KEY}` }],
  };

  it('scrubs exact secrets from chunks, and leaves every other event as it was', () => {
    const decoder = scrubbingDecoder(inner, secrets);
    expect(decoder.decode({ data: `{"content":"${API_KEY}"}` })).toEqual([{ type: 'chunk', data: '{"content":"[redacted]"}', event: 'e' }, { type: 'done' }]);
    const clean = decoder.decode({ data: '{"content":"hi"}' });
    expect(clean[0]).toEqual({ type: 'chunk', data: '{"content":"hi"}', event: 'e' });
    expect(decoder.end?.()).toEqual([{ type: 'chunk', data: 'end [redacted]' }]);
  });

  it('is the decoder itself when there is nothing to scrub', () => {
    expect(scrubbingDecoder(inner, Secrets.none)).toBe(inner);
    expect(scrubbingDecoder({ decode: inner.decode }, secrets).end).toBeUndefined();
  });
});
