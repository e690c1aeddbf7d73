import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { LoggingConfig } from '../../../src/config/types.js';
import { LogSink } from '../../../src/observability/log-sink.js';
import { createLogger, type Logger, requestLineWriter } from '../../../src/observability/logger.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lifeline-log-sink-'));
let seq = 0;
const open: { sink: LogSink; fd: number }[] = [];

/** A sink over a fresh temp file; ended and closed after each test. */
function tempSink(maxPendingBytes?: number): { sink: LogSink; file: string } {
  const file = path.join(dir, `log-${seq++}.ndjson`);
  const fd = fs.openSync(file, 'w');
  const sink = new LogSink(fd, maxPendingBytes);
  open.push({ sink, fd });
  return { sink, file };
}

const flushed = (sink: LogSink): Promise<void> => new Promise((resolve) => sink.flush(() => resolve()));
const lines = (file: string): string[] => fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

afterEach(async () => {
  for (const { sink, fd } of open.splice(0)) {
    await flushed(sink); // no write may be in flight when the fd closes
    sink.end();
    fs.closeSync(fd);
  }
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('LogSink', () => {
  it('writes the lines of one tick, in order, once flushed', async () => {
    const { sink, file } = tempSink();
    expect(sink.write('one\n')).toBe(true);
    expect(sink.write('two\n')).toBe(true);
    expect(sink.write('three\n')).toBe(true);
    await flushed(sink);
    expect(fs.readFileSync(file, 'utf8')).toBe('one\ntwo\nthree\n');
  });

  it('loses nothing and keeps order across many ticks', async () => {
    const { sink, file } = tempSink();
    const expected: string[] = [];
    for (let turn = 0; turn < 10; turn++) {
      for (let i = 0; i < 200; i++) {
        const line = `line ${turn * 200 + i}`;
        expected.push(line);
        expect(sink.write(`${line}\n`)).toBe(true);
      }
      await nextTurn();
    }
    await flushed(sink);
    expect(lines(file)).toEqual(expected);
  });

  it('flush on an idle sink calls back', async () => {
    const { sink, file } = tempSink();
    const cb = vi.fn();
    await new Promise<void>((resolve) =>
      sink.flush((err) => {
        cb(err);
        resolve();
      }),
    );
    expect(cb).toHaveBeenCalledWith(undefined);
    expect(fs.readFileSync(file, 'utf8')).toBe('');
  });

  it('flushSync writes pending lines at once, and they are not written twice', async () => {
    const { sink, file } = tempSink();
    sink.write('a\n');
    sink.write('b\n');
    sink.flushSync();
    expect(fs.readFileSync(file, 'utf8')).toBe('a\nb\n');
    await nextTurn(); // the batch scheduled by the writes finds nothing left
    await flushed(sink);
    expect(fs.readFileSync(file, 'utf8')).toBe('a\nb\n');
  });

  it('drops lines past maxPendingBytes and reports the count in a warning line', async () => {
    const { sink, file } = tempSink(25);
    const line = '0123456789\n'; // 11 chars: two fit in 25, the rest do not
    const accepted = [1, 2, 3, 4, 5].map(() => sink.write(line));
    expect(accepted).toEqual([true, true, false, false, false]);
    await flushed(sink);
    const out = lines(file);
    expect(out.slice(0, 2)).toEqual(['0123456789', '0123456789']);
    expect(out).toHaveLength(3);
    const warning = JSON.parse(out[2]!);
    expect(warning.level).toBe(40);
    expect(warning.dropped).toBe(3);
    expect(typeof warning.msg).toBe('string');
    expect(new Date(warning.time).toISOString()).toBe(warning.time);

    // Caught up: writes are accepted again and the count is not reported twice.
    expect(sink.write('after\n')).toBe(true);
    await flushed(sink);
    expect(lines(file).slice(3)).toEqual(['after']);
  });

  it('end() flushes synchronously and later writes return false', async () => {
    const { sink, file } = tempSink();
    sink.write('last\n');
    sink.end();
    expect(fs.readFileSync(file, 'utf8')).toBe('last\n');
    expect(sink.write('too late\n')).toBe(false);
    await flushed(sink);
    expect(fs.readFileSync(file, 'utf8')).toBe('last\n');
  });
});

const infoConfig: LoggingConfig = { level: 'info' };
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('requestLineWriter', () => {
  it("writes pino's shape: level, ISO time, fields (undefined omitted), msg last", async () => {
    const { sink, file } = tempSink();
    const logger = createLogger(infoConfig, sink);
    const write = requestLineWriter(logger);
    write(
      {
        requestId: 'r-1',
        status: 200,
        attempts: [
          ['a', 1],
          ['b', [2, 3]],
        ],
        usage: { tokens: [1, 2], nested: { deep: [[]] } },
        error: undefined,
      },
      'request "quoted"\nline',
    );
    await flushed(sink);
    const out = lines(file);
    expect(out).toHaveLength(1);
    const line = JSON.parse(out[0]!);
    expect(Object.keys(line)).toEqual(['level', 'time', 'requestId', 'status', 'attempts', 'usage', 'msg']);
    expect(line.level).toBe(30);
    expect(line.time).toMatch(ISO);
    expect(line.attempts).toEqual([
      ['a', 1],
      ['b', [2, 3]],
    ]);
    expect(line.usage).toEqual({ tokens: [1, 2], nested: { deep: [[]] } });
    expect('error' in line).toBe(false);
    expect(line.msg).toBe('request "quoted"\nline');
  });

  it('writes a valid line when no field survives', async () => {
    const { sink, file } = tempSink();
    const write = requestLineWriter(createLogger(infoConfig, sink));
    write({}, 'empty');
    write({ gone: undefined }, 'all undefined');
    await flushed(sink);
    const out = lines(file).map((l) => JSON.parse(l));
    expect(out.map((l) => Object.keys(l))).toEqual([
      ['level', 'time', 'msg'],
      ['level', 'time', 'msg'],
    ]);
    expect(out.map((l) => l.msg)).toEqual(['empty', 'all undefined']);
  });

  it('has the same key order as a line pino writes through the same logger', async () => {
    const { sink, file } = tempSink();
    const logger = createLogger(infoConfig, sink);
    requestLineWriter(logger)({ a: 1, b: [1, 2] }, 'fast');
    logger.info({ a: 1, b: [1, 2] }, 'pino');
    await flushed(sink);
    const [fast, slow] = lines(file).map((l) => JSON.parse(l));
    expect(Object.keys(fast)).toEqual(['level', 'time', 'a', 'b', 'msg']);
    expect(Object.keys(slow)).toEqual(Object.keys(fast));
    expect(slow.level).toBe(fast.level);
    expect(slow.time).toMatch(ISO);
    expect({ ...fast, time: 0, msg: '' }).toEqual({ ...slow, time: 0, msg: '' });
  });

  it('falls back to logger.info when the destination has no write', () => {
    const info = vi.fn();
    const fake = { [pino.symbols.streamSym]: {}, info, levels: { values: { info: 30 } } } as unknown as Logger;
    const write = requestLineWriter(fake);
    expect(() => write({ a: 1 }, 'm')).not.toThrow();
    expect(info).toHaveBeenCalledWith({ a: 1 }, 'm');
  });
});
