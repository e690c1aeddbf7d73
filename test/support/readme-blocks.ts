/**
 * Reading the docs as a newcomer would: the fenced blocks of a Markdown file, the commands of a shell block, and
 * the words of a command. Pure; test/e2e/readme-examples.test.ts decides what to do with each.
 */
import { readFileSync } from 'node:fs';

export interface Block {
  /** The Markdown file, relative to the repo root. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The fence's info string ('' when none): sh, ts, yaml, json, text, … */
  lang: string;
  text: string;
}

/** Every fenced block (``` or ~~~) of a Markdown file, in order. */
export function fencedBlocks(root: string, file: string): Block[] {
  const lines = readFileSync(`${root}/${file}`, 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(```|~~~)\s*([\w-]*)/.exec(lines[i]!);
    if (!open) continue;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !lines[j]!.startsWith(open[1]!)) body.push(lines[j++]!);
    if (j === lines.length) throw new Error(`${file}:${i + 1}: a fenced block that never closes`);
    blocks.push({ file, line: i + 1, lang: open[2]!, text: body.join('\n') });
    i = j;
  }
  return blocks;
}

/** `line` without a trailing `# comment` (a `#` inside quotes, or inside a word, is not one). */
function withoutComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) {
      return line.slice(0, i);
    }
  }
  return line;
}

/** The commands of a shell block: `\`-continued lines joined, comments and blank lines dropped. */
export function shellCommands(text: string): string[] {
  const commands: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = withoutComment(raw).trimEnd();
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    const command = (pending + line.trim()).trim();
    pending = '';
    if (command !== '') commands.push(command);
  }
  return commands;
}

/** A command's words as a POSIX shell would split them (quotes, no expansions): enough for `lifeline` commands. */
export function shellWords(command: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (const c of command) {
    if (quote) {
      if (c === quote) quote = undefined;
      else word = (word ?? '') + c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= '';
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (quote) throw new Error(`unbalanced quote in: ${command}`);
  if (word !== undefined) words.push(word);
  return words;
}

/** `args` with any `--port N` / `-p N` replaced by `--port 0`: a free port, whatever the docs' default. */
export function onAnyFreePort(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--port' || args[i] === '-p') i++;
    else out.push(args[i]!);
  }
  return [...out, '--port', '0'];
}

/** `${VAR}` references without a default: what a user must set before the config loads. */
export function requiredVars(text: string): string[] {
  return [...new Set([...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!))];
}

/** A value for each variable, recognisable in output (so a test can see it is never printed). */
export function dummyEnv(names: readonly string[]): Record<string, string> {
  return Object.fromEntries(names.map((n) => [n, `dummy-${n.toLowerCase()}`]));
}
