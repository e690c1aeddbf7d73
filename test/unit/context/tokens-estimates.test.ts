/**
 * Offline token counting (src/context): estimates beyond gpt-tokenizer's recipe. Schema unions and $ref,
 * json_schema response formats, image sizes read from data URLs, audio and PDF files, images for other model
 * families (the cross-family rule), and malformed bodies counted as empty rather than throwing.
 */
import { countTokens as o200kTokens } from 'gpt-tokenizer/encoding/o200k_base';
import type { ChatCompletionRequest } from 'gpt-tokenizer/GptEncoding';
import * as gpt4o from 'gpt-tokenizer/model/gpt-4o';
import { describe, expect, it } from 'vitest';
import { audioTokens, countChatPromptTokens, fileTokens, imageSizeFromDataUrl, PDF_PAGE_TOKENS } from '../../../src/context/index.js';
import { pngDataUrl } from '../../support/context.js';

describe('estimates beyond the recipe', () => {
  it('renders schema unions, $ref and $defs rather than counting them as "any"', () => {
    const fn = {
      name: 'lookup',
      parameters: {
        type: 'object',
        properties: {
          id: { anyOf: [{ type: 'string' }, { type: 'integer' }] },
          kind: { type: ['string', 'null'], enum: ['a', 'b', null] },
          owner: { $ref: '#/$defs/Person' },
        },
        $defs: { Person: { type: 'object', properties: { name: { type: 'string' } } } },
      },
    };
    const body = { messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: fn }] };
    const request = { messages: [{ role: 'user', content: 'hi' }], functions: [fn] } as unknown as ChatCompletionRequest;
    expect(countChatPromptTokens(body, 'gpt-4o')).toBeGreaterThan(gpt4o.countChatCompletionTokens!(request) + 10);
  });

  it('counts a json_schema response_format as its JSON, name and 10 tokens', () => {
    const base = { messages: [{ role: 'user', content: 'Give me a JSON object.' }] };
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };
    const withFormat = { ...base, response_format: { type: 'json_schema', json_schema: { name: 'reply', schema } } };
    const plain = countChatPromptTokens(base, 'gpt-4o');
    expect(countChatPromptTokens(withFormat, 'gpt-4o')).toBe(plain + o200kTokens(JSON.stringify(schema)) + o200kTokens('reply') + 10);
    expect(countChatPromptTokens({ ...base, response_format: { type: 'json_object' } }, 'gpt-4o')).toBe(plain);
  });

  it('reads image sizes from PNG, GIF, WebP and JPEG data URLs', () => {
    const url = (mime: string, bytes: number[]) => `data:${mime};base64,${Buffer.from(bytes).toString('base64')}`;
    expect(imageSizeFromDataUrl(pngDataUrl(1920, 1080))).toEqual({ width: 1920, height: 1080 });
    const gif = [...Buffer.from('GIF89a'), 0x40, 0x01, 0xf0, 0x00, 0, 0, 0];
    expect(imageSizeFromDataUrl(url('image/gif', gif))).toEqual({ width: 320, height: 240 });
    const webp = [...Buffer.from('RIFF'), 0, 0, 0, 0, ...Buffer.from('WEBPVP8X'), 10, 0, 0, 0, 0, 0, 0, 0];
    webp.push(0xff, 0x0f, 0x00, 0x37, 0x08, 0x00); // canvas 4096 × 2104 (stored minus one, 24-bit LE)
    expect(imageSizeFromDataUrl(url('image/webp', webp))).toEqual({ width: 4096, height: 2104 });
    const app0 = [0xff, 0xe0, 0x00, 0x10, ...Buffer.from('JFIF\0'), 1, 1, 0, 0, 1, 0, 1, 0, 0];
    const sof0 = [0xff, 0xc0, 0x00, 0x11, 8, 0x02, 0xd0, 0x05, 0x00, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
    expect(imageSizeFromDataUrl(url('image/jpeg', [0xff, 0xd8, ...app0, ...sof0]))).toEqual({ width: 1280, height: 720 });
    expect(imageSizeFromDataUrl('https://example.com/a.png')).toBeUndefined();
    expect(imageSizeFromDataUrl('data:image/png;base64,AAAA')).toBeUndefined();
  });

  it('estimates audio at 10 tokens a second and PDFs by page', () => {
    const wav = Buffer.alloc(44 + 32000 * 3); // 3 s of 16 kHz 16-bit mono
    wav.write('RIFF', 0, 'latin1');
    wav.write('WAVE', 8, 'latin1');
    wav.writeUInt32LE(32000, 28);
    expect(audioTokens({ data: wav.toString('base64'), format: 'wav' })).toBe(31); // 3.001 s, rounded up
    expect(audioTokens({ data: Buffer.alloc(8000).toString('base64'), format: 'mp3' })).toBe(20); // 2 s at 32 kbit/s
    const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Pages /Count 2 >>\n2 0 obj << /Type /Page >>\n3 0 obj << /Type/Page >>');
    expect(fileTokens({ file_data: `data:application/pdf;base64,${pdf.toString('base64')}` })).toBe(2 * PDF_PAGE_TOKENS);
    expect(fileTokens({ file_id: 'file-abc' })).toBe(4 * PDF_PAGE_TOKENS);
  });

  it('prices images by the cross-family rule for other models', () => {
    const body = { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: pngDataUrl(1024, 1024) } }] }] };
    const frame = 3 + 1 + 3; // message framing + "user" + reply priming
    expect(countChatPromptTokens(body, 'gpt-4o')).toBe(frame + 765);
    expect(countChatPromptTokens(body, 'claude-3-5-haiku')).toBe(Math.ceil((frame + Math.ceil((1024 * 1024) / 750)) * 1.3));
    const remote = { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }] };
    expect(countChatPromptTokens(remote, 'gemini-2.0-flash')).toBe(Math.ceil((frame + 1600) * 1.2));
  });

  it('treats malformed bodies as empty rather than throwing', () => {
    expect(countChatPromptTokens({}, 'gpt-4o')).toBe(3);
    expect(countChatPromptTokens({ messages: 'hi', tools: 'x', tool_choice: 5 }, 'gpt-4o')).toBe(3);
    expect(countChatPromptTokens({ messages: [null, 1, { role: 5, content: { a: 1 } }] }, 'gpt-4o')).toBe(6);
  });
});
