import { GatewayError } from '../errors.js';

/**
 * How deeply a request body's JSON may nest. JSON.parse takes any depth, but JSON.stringify recurses and runs
 * out of stack a few thousand levels down — and the gateway serialises parsed bodies (a translation to another
 * provider's shape, a repeated key, tool input into `arguments`, token counting). Real requests, tool schemas
 * included, stay far below this; OpenAI's own limit on a tool schema is 5 levels of nesting.
 */
export const MAX_JSON_DEPTH = 128;

/**
 * A 400 when `text` nests objects and arrays more than `limit` levels deep (the top-level object is level 1).
 * A linear scan of the text, strings skipped with indexOf (the bulk of a large body is string content), run
 * before JSON.parse so that nothing is built for a body that will be refused. Text that is not valid JSON is
 * scanned as far as it goes; JSON.parse then names what is wrong with it.
 */
export function checkJsonDepth(text: string, limit: number = MAX_JSON_DEPTH): void {
  // Fewer brackets than the limit cannot nest past it: the common case costs one pass of a native search.
  if (text.length <= limit || !mayExceed(text, limit)) return;
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 34 /* " */) {
      i = closingQuote(text, i);
      if (i === -1) return;
    } else if (ch === 123 /* { */ || ch === 91 /* [ */) {
      if (++depth > limit) throw tooDeep(limit);
    } else if (ch === 125 /* } */ || ch === 93 /* ] */) {
      depth--;
    }
  }
}

/** At least `limit + 1` opening brackets anywhere in the text (inside strings too: this is only a bound). */
function mayExceed(text: string, limit: number): boolean {
  let count = 0;
  for (const open of ['{', '[']) {
    for (let i = text.indexOf(open); i !== -1; i = text.indexOf(open, i + 1)) {
      if (++count > limit) return true;
    }
  }
  return false;
}

/** The index of the quote that closes the string opening at `i`, or -1 when it is never closed. */
function closingQuote(text: string, i: number): number {
  let from = i + 1;
  for (;;) {
    const q = text.indexOf('"', from);
    if (q === -1) return -1;
    // Escaped when an odd number of backslashes precede it.
    let k = q - 1;
    while (text.charCodeAt(k) === 92) k--;
    if ((q - 1 - k) % 2 === 0) return q;
    from = q + 1;
  }
}

function tooDeep(limit: number): GatewayError {
  return new GatewayError(
    'bad_request',
    `Request body is nested more than ${limit} levels deep (objects and arrays inside each other); flatten it to ${limit} levels or fewer`,
    { code: 'json_too_deep' },
  );
}
