/** The control endpoints, `/_mock/*`: stats, the plan (read or replace), reset. Not recorded and never faulted. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseJson, readBody, sendJson } from './body.js';
import { errorBody } from './dialects/openai/answers.js';
import { PlanError } from './faults.js';
import type { MockState } from './state.js';

const ENDPOINTS = ['/_mock/stats', '/_mock/plan', '/_mock/reset'];

export async function control(state: MockState, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const noStore = { 'cache-control': 'no-store' };
  const endpoint = `${req.method} ${path}`;
  if (endpoint === 'GET /_mock/stats') return sendJson(res, 200, JSON.stringify(state.log.snapshot()), noStore);
  if (endpoint === 'GET /_mock/plan') return sendJson(res, 200, JSON.stringify(state.plan), noStore);
  if (endpoint === 'POST /_mock/reset') {
    state.reset();
    return sendJson(res, 200, JSON.stringify({ ok: true }), noStore);
  }
  if (endpoint === 'PUT /_mock/plan') return putPlan(state, req, res, noStore);
  const known = ENDPOINTS.includes(path);
  const status = known ? 405 : 404;
  return sendJson(res, status, errorBody(status, `${known ? 'Method not allowed' : 'No control endpoint'}: ${endpoint}`));
}

async function putPlan(state: MockState, req: IncomingMessage, res: ServerResponse, noStore: Record<string, string>): Promise<void> {
  const body = await readBody(req, new AbortController().signal);
  if (!body) return;
  if ('tooLarge' in body) return sendJson(res, 413, errorBody(413, 'The plan is too large.'));
  const parsed = parseJson(body.text);
  if (!parsed.ok) return sendJson(res, 400, errorBody(400, 'The plan is not valid JSON.', 'invalid_json'));
  try {
    state.setPlan(parsed.value);
  } catch (err) {
    if (!(err instanceof PlanError)) throw err;
    return sendJson(res, 400, errorBody(400, err.message, 'invalid_plan', err.field || null));
  }
  return sendJson(res, 200, JSON.stringify({ ok: true, plan: state.plan }), noStore);
}
