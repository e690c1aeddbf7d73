/**
 * The Anthropic dialect's request checks: what the real Messages API refuses with a 400, enough to catch a
 * gateway that translates badly (missing max_tokens, roles that do not alternate, a tool_result without its
 * tool_use, empty text blocks, a final assistant prefill ending in whitespace). Messages follow the real API's
 * wording. Pure.
 */
import { InvalidRequest } from '../route.js';

type Json = Record<string, unknown>;

const BLOCK_TYPES = new Set(['text', 'image', 'document', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking']);
const TOOL_CHOICES = new Set(['auto', 'any', 'tool', 'none']);

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(message: string, param: string | null = null): never {
  throw new InvalidRequest(message, param);
}

/** Checks a Messages request like the real API; returns whether it asks for a stream. */
export function checkMessages(body: unknown): { stream: boolean } {
  if (!isObject(body)) fail('The request body must be a JSON object.');
  if (typeof body.model !== 'string' || body.model === '') fail('model: Field required', 'model');
  if (body.max_tokens === undefined) fail('max_tokens: Field required', 'max_tokens');
  if (!Number.isInteger(body.max_tokens) || (body.max_tokens as number) < 1) {
    fail('max_tokens: Input should be an integer greater than or equal to 1', 'max_tokens');
  }
  if (body.stream !== undefined && typeof body.stream !== 'boolean') fail('stream: Input should be a valid boolean', 'stream');
  if (body.temperature !== undefined && !(typeof body.temperature === 'number' && body.temperature >= 0 && body.temperature <= 1)) {
    fail('temperature: range: 0..1', 'temperature');
  }
  checkSystem(body.system);
  checkConversation(body.messages);
  checkTools(body.tools, body.tool_choice);
  return { stream: body.stream === true };
}

function checkSystem(system: unknown): void {
  if (system === undefined || typeof system === 'string') return;
  if (!Array.isArray(system) || !system.every((b) => isObject(b) && b.type === 'text' && typeof b.text === 'string')) {
    fail('system: Input should be a valid string or a list of text blocks', 'system');
  }
}

function blocksOf(content: unknown, path: string): Json[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  if (!Array.isArray(content)) fail(`${path}: Input should be a valid string or list of content blocks`, path);
  return content.map((block, j) => {
    if (!isObject(block) || typeof block.type !== 'string' || !BLOCK_TYPES.has(block.type)) {
      fail(`${path}.${j}.type: Input tag '${isObject(block) ? String(block.type) : ''}' does not match any of the expected tags`, path);
    }
    return block;
  });
}

function checkConversation(messages: unknown): void {
  if (!Array.isArray(messages)) fail('messages: Field required', 'messages');
  if (messages.length === 0) fail('messages: at least one message is required', 'messages');
  let previous: { role: string; toolUses: string[] } | undefined;
  messages.forEach((m: unknown, i) => {
    if (!isObject(m) || (m.role !== 'user' && m.role !== 'assistant')) {
      fail(`messages.${i}.role: Input should be 'user' or 'assistant'`, 'messages');
    }
    if (i === 0 && m.role !== 'user') fail('messages: first message must use the "user" role', 'messages');
    if (previous?.role === m.role) {
      fail(`messages: roles must alternate between "user" and "assistant", but found multiple "${m.role}" roles in a row`, 'messages');
    }
    const isLast = i === messages.length - 1;
    const blocks = blocksOf(m.content, `messages.${i}.content`);
    if (blocks.length === 0 && !(isLast && m.role === 'assistant')) {
      fail(`messages.${i}: all messages must have non-empty content except for the optional final assistant message`, 'messages');
    }
    for (const block of blocks) checkBlock(block, m.role, i);
    const lastBlock = blocks[blocks.length - 1];
    if (isLast && m.role === 'assistant' && lastBlock?.type === 'text' && /\s$/.test(lastBlock.text as string)) {
      // A prefill: the model continues it, and the real API refuses one that ends with whitespace.
      fail('messages: final assistant content cannot end with trailing whitespace', 'messages');
    }
    const results = blocks.filter((b) => b.type === 'tool_result').map((b) => b.tool_use_id as string);
    const pending = previous?.toolUses ?? [];
    const stray = results.find((id) => !pending.includes(id));
    if (stray) {
      fail(
        `messages.${i}.content: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${stray}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`,
        'messages',
      );
    }
    const unanswered = pending.filter((id) => !results.includes(id));
    if (unanswered.length > 0) {
      fail(
        `messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${unanswered.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`,
        'messages',
      );
    }
    const firstOther = blocks.findIndex((b) => b.type !== 'tool_result');
    if (firstOther >= 0 && blocks.slice(firstOther).some((b) => b.type === 'tool_result')) {
      fail(`messages.${i}.content: tool_result blocks must come first in the content`, 'messages');
    }
    previous = { role: m.role, toolUses: blocks.filter((b) => b.type === 'tool_use').map((b) => b.id as string) };
  });
}

function checkBlock(block: Json, role: string, i: number): void {
  const where = `messages.${i}.content`;
  switch (block.type) {
    case 'text':
      if (typeof block.text !== 'string' || block.text === '') fail('messages: text content blocks must be non-empty', 'messages');
      return;
    case 'image': {
      const source = isObject(block.source) ? block.source : {};
      const ok =
        (source.type === 'base64' && typeof source.media_type === 'string' && typeof source.data === 'string') ||
        (source.type === 'url' && typeof source.url === 'string' && /^https?:\/\//.test(source.url));
      if (!ok) fail(`${where}: image source must be {type:"base64", media_type, data} or {type:"url", url}`, 'messages');
      return;
    }
    case 'tool_use':
      if (role !== 'assistant') fail(`${where}: tool_use blocks are only allowed in assistant messages`, 'messages');
      if (typeof block.id !== 'string' || typeof block.name !== 'string' || !isObject(block.input)) {
        fail(`${where}: tool_use blocks need an id, a name and an input object`, 'messages');
      }
      return;
    case 'tool_result':
      if (role !== 'user') fail(`${where}: tool_result blocks are only allowed in user messages`, 'messages');
      if (typeof block.tool_use_id !== 'string') fail(`${where}: tool_use_id: Field required`, 'messages');
      return;
  }
}

function checkTools(tools: unknown, choice: unknown): void {
  if (tools !== undefined) {
    if (!Array.isArray(tools)) fail('tools: Input should be a valid list', 'tools');
    tools.forEach((t: unknown, i) => {
      if (!isObject(t) || typeof t.name !== 'string' || !/^[a-zA-Z0-9_-]{1,128}$/.test(t.name)) {
        fail(`tools.${i}.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`, 'tools');
      }
      if (!isObject(t.input_schema) || t.input_schema.type !== 'object') fail(`tools.${i}.input_schema.type: Input should be 'object'`, 'tools');
    });
  }
  if (choice === undefined) return;
  if (!isObject(choice) || typeof choice.type !== 'string' || !TOOL_CHOICES.has(choice.type)) {
    fail("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'", 'tool_choice');
  }
  if (choice.type === 'tool' && typeof choice.name !== 'string') fail('tool_choice.name: Field required', 'tool_choice');
}
