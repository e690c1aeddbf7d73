// Child processes of the bench (mock, floor, gateway): start them, find their URL, account their CPU and RSS
// from /proc, and make sure none outlives the bench — not even when the bench is SIGKILLed (orphan-guard).
import { execSync, spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const GUARD = new URL('./orphan-guard.mjs', import.meta.url).href;
const children = new Set();

export const CLK_TCK = Number(execSync('getconf CLK_TCK').toString().trim()) || 100;

/**
 * Starts `node --import orphan-guard ARGS`; resolves once stderr (or stdout, with `readyOn: 'stdout'`) matches
 * `pattern`; `url` is its first group. stdout goes to `stdoutFile` (default /dev/null) unless it is watched: the
 * gateway's logs stay on, they just aren't kept.
 */
export function startChild(name, args, { pattern, stdoutFile = '/dev/null', env = {}, timeoutMs = 20_000, nodeArgs = [], readyOn = 'stderr' }) {
  const out = readyOn === 'stdout' ? 'pipe' : openSync(stdoutFile, 'w');
  const child = spawn(process.execPath, [...nodeArgs, '--import', GUARD, ...args], {
    stdio: ['pipe', out, 'pipe'],
    env: { ...process.env, ...env },
  });
  if (typeof out === 'number') closeSync(out); // the child has its own copy
  children.add(child);
  let stderr = '';
  let started = false;
  child.once('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within ${timeoutMs} ms:\n${stderr}`)), timeoutMs);
    const onData = (data) => {
      stderr = (stderr + data).slice(-8192);
      const m = pattern.exec(stderr);
      if (m && !started) {
        started = true;
        clearTimeout(timer);
        resolve({ name, child, pid: child.pid, url: m[1], stderr: () => stderr });
      }
    };
    const keep = (data) => {
      stderr = (stderr + data).slice(-8192);
    };
    child.stderr.on('data', readyOn === 'stderr' ? onData : keep);
    if (readyOn === 'stdout') child.stdout.on('data', onData); // read to the end, so the child never blocks on a full pipe
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (!started) reject(new Error(`${name} exited (${signal ?? code}) before it listened:\n${stderr}`));
    });
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child is gone. */
export function stopChild(proc, graceMs = 3000) {
  const { child } = proc;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Last resort, synchronous (usable in an 'exit' handler): SIGKILL every child still running. */
export function killAll() {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  children.clear();
}

/** Fields of /proc/PID/stat after the command name: [state, ppid, …]; null if the process is gone. */
function statFields(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** `pid` and all its descendants. */
export function processTree(pid) {
  const byParent = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry);
    if (!fields) continue;
    const ppid = Number(fields[1]);
    if (!byParent.has(ppid)) byParent.set(ppid, []);
    byParent.get(ppid).push(Number(entry));
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(byParent.get(tree[i]) ?? []));
  return tree;
}

/** CPU time (user + system) of the process tree, in microseconds. */
export function cpuMicros(pid) {
  let ticks = 0;
  for (const p of processTree(pid)) {
    const fields = statFields(p);
    if (fields) ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
  }
  return (ticks * 1e6) / CLK_TCK;
}

/** Resident set size of the process tree, in bytes. */
export function rssBytes(pid) {
  let kb = 0;
  for (const p of processTree(pid)) {
    try {
      const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(join('/proc', String(p), 'status'), 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {
      // exited between listing and reading
    }
  }
  return kb * 1024;
}

/** The soft limit on open files this process (and its children) run with. */
export function openFilesLimit() {
  try {
    return Number(execSync('ulimit -n', { shell: '/bin/sh' }).toString().trim()) || Number.POSITIVE_INFINITY;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}
