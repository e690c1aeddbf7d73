import { describe, expect, it } from 'vitest';
import { topLevelValue, withField, withModel } from '../../../src/providers/shared/raw-json.js';

/** Bodies a client may send, written the ways clients write JSON. */
const BODIES = [
  '{"model":"alias","messages":[{"role":"user","content":"hi"}]}',
  '{ "messages" : [ { "role" : "user" , "content" : "say \\"model\\": \\"x\\"" } ] ,\n  "model" : "alias" }\n',
  '{"messages":[{"role":"user","content":"a backslash at the end \\\\"}],"model":"alias","stream":true}',
  '{"metadata":{"model":"nested-not-top"},"model":"alias","tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"model":{"type":"string"}}}}}]}',
  '{"model":"al\\u0069as","temperature":0.5,"n":1,"stop":null,"logprobs":false,"messages":[]}',
  '{"messages":[{"role":"user","content":"ünïcødé 🎉 \\ud83c\\udf89 and } ] { [ inside"}],"model":"alias"}',
  '\t{"model":"alias","x":[1,[2,[3,{"y":"]}"}]]],"z":-1.5e+3}',
];

describe('withModel', () => {
  for (const raw of BODIES) {
    it(`swaps only the top-level model: ${raw.slice(0, 50)}`, () => {
      const out = withModel(raw, 'upstream/model-"quoted"');
      expect(out).toBeDefined();
      expect(JSON.parse(out as string)).toEqual({ ...JSON.parse(raw), model: 'upstream/model-"quoted"' });
    });
  }

  it('keeps every other byte as the client sent it', () => {
    const raw = '{ "messages" : [ ] ,  "model" : "alias" , "seed" : 7 }';
    expect(withModel(raw, 'gpt-4o')).toBe('{ "messages" : [ ] ,  "model" : "gpt-4o" , "seed" : 7 }');
  });

  it('gives up on a repeated top-level key, which parsers may resolve differently', () => {
    expect(withModel('{"model":"expensive","model":"alias"}', 'cheap')).toBeUndefined();
    expect(withModel('{"model":"alias","stream":true,"stream":false}', 'm')).toBeUndefined();
  });

  it('gives up on a top-level key written with escapes (it might spell "model")', () => {
    expect(withModel('{"mod\\u0065l":"alias","model":"x"}', 'm')).toBeUndefined();
    expect(withModel('{"a\\"b":1,"model":"alias"}', 'm')).toBeUndefined();
  });

  it('gives up without a top-level model, or on text that is not one object', () => {
    expect(withModel('{"messages":[],"meta":{"model":"x"}}', 'm')).toBeUndefined();
    expect(withModel('[{"model":"x"}]', 'm')).toBeUndefined();
    expect(withModel('{}', 'm')).toBeUndefined();
    expect(withModel('{"model":"x"', 'm')).toBeUndefined();
  });

  it('is fast on a large prompt (strings are skipped, not walked)', () => {
    const big = JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(2_000_000) }], model: 'alias' });
    const out = withModel(big, 'target') as string;
    expect(out.length).toBe(big.length + 1);
    expect(out.endsWith('"model":"target"}')).toBe(true);
  });
});

describe('topLevelValue', () => {
  it('finds a value of each JSON type', () => {
    const raw = '{"s":"a\\"b","n":-12.5,"t":true,"f":false,"z":null,"o":{"k":[1,"]"]},"a":[{},[]]}';
    for (const [key, text] of [
      ['s', '"a\\"b"'],
      ['n', '-12.5'],
      ['t', 'true'],
      ['z', 'null'],
      ['o', '{"k":[1,"]"]}'],
      ['a', '[{},[]]'],
    ] as const) {
      const span = topLevelValue(raw, key);
      expect(span && raw.slice(span.start, span.end)).toBe(text);
    }
  });
});

describe('withField', () => {
  it('adds a last top-level member', () => {
    for (const raw of BODIES) {
      const out = withField(raw, 'stream_options', '{"include_usage":true}');
      expect(JSON.parse(out as string)).toEqual({ ...JSON.parse(raw), stream_options: { include_usage: true } });
    }
  });

  it('gives up on an empty object or trailing garbage', () => {
    expect(withField('{ }', 'k', '1')).toBeUndefined();
    expect(withField('{"a":1} x', 'k', '1')).toBeUndefined();
    expect(withField('"{}"', 'k', '1')).toBeUndefined();
  });
});
