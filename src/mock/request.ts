/**
 * One request at the mock. Control endpoints aside, it is recorded and routed to its dialect; a plain route
 * answers at once; a model route's body is read and checked, and only then does the request draw the next fault
 * from the plan, which deliver.ts plays out.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MAX_BODY_BYTES, parseJson, readBody, sendJson } from './body.js';
import { control } from './control.js';
import { deliver, type Exchange, type Reply } from './deliver.js';
import { DIALECT_ROUTES } from './dialects/index.js';
import { errorBody } from './dialects/openai/answers.js';
import { InvalidRequest, type MockContext, type ModelRoute } from './dialects/route.js';
import { isHealthy, plannedOutcome } from './faults.js';
import type { MockState } from './state.js';

export async function handleRequest(state: MockState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  const url = new URL(req.url ?? '/', 'http://mock');
  const path = url.pathname;
  if (path.startsWith('/_mock/')) return control(state, req, res, path);

  const x = openExchange(state, req, res, method, path);
  const route = DIALECT_ROUTES.find((r) => r.path.test(path) && r.method === method && (r.accepts?.(req.headers) ?? true));
  if (!route) {
    const known = DIALECT_ROUTES.find((r) => r.path.test(path));
    return known
      ? answerPlain(state, x, 405, known.errorBody(405, `Method ${method} is not allowed for ${path}.`, 'method_not_allowed'))
      : answerPlain(state, x, 404, errorBody(404, `Invalid URL (${method} ${path}).`, 'unknown_url'));
  }
  const ctx: MockContext = { n: x.record.n, reply: state.reply, match: route.path.exec(path)!, query: url.searchParams, headers: req.headers };
  Object.assign(x.headers, route.responseHeaders?.(ctx));
  if (route.kind === 'plain' && route.listing && !isHealthy(state.plan.models)) {
    const fault = { ...state.plan.models };
    const outcome = plannedOutcome(fault, false);
    state.log.decide(x.record, fault, outcome);
    return deliver(x, fault, outcome, { kind: 'json', body: route.body(ctx) }, route.listing);
  }
  if (route.kind === 'plain') return answerPlain(state, x, 200, route.body(ctx));
  return answerModel(state, req, x, route, ctx);
}

/** Records the request and ties its exchange to the response: the exchange's signal ends with the response. */
function openExchange(state: MockState, req: IncomingMessage, res: ServerResponse, method: string, path: string): Exchange {
  const record = state.log.begin({ method, path, headers: { ...req.headers } });
  const controller = new AbortController();
  state.inflight.add(controller);
  let endedByMock = false;
  const socket = req.socket;
  const x: Exchange = {
    res,
    signal: controller.signal,
    headers: { 'x-request-id': `mock-req-${record.n}` },
    record,
    destroy(how) {
      endedByMock = true;
      record.finishedAt = Date.now();
      if (how === 'reset') socket.resetAndDestroy();
      else socket.destroy();
    },
  };
  res.on('finish', () => {
    record.finishedAt ??= Date.now();
  });
  res.on('close', () => {
    state.inflight.delete(controller);
    if (!res.writableFinished && !endedByMock && !state.closing) record.closedByClientAt = Date.now();
    controller.abort(); // ends every pending wait of this request, so no timer outlives it
  });
  return x;
}

/** An answer that draws no fault: listings, unknown routes, invalid requests. */
function answerPlain(state: MockState, x: Exchange, status: number, body: string): void {
  state.log.decide(x.record, null, status < 400 ? 'ok' : 'status');
  x.record.status = status;
  sendJson(x.res, status, body, x.headers);
}

async function answerModel(state: MockState, req: IncomingMessage, x: Exchange, route: ModelRoute, ctx: MockContext): Promise<void> {
  const raw = await readBody(req, x.signal);
  if (!raw) return;
  if ('tooLarge' in raw) return answerPlain(state, x, 413, errorBody(413, `The request body exceeds ${MAX_BODY_BYTES} bytes.`));
  const parsed = parseJson(raw.text);
  x.record.body = parsed.ok ? parsed.value : raw.text;
  x.record.text = raw.text;
  if (!parsed.ok) {
    return answerPlain(state, x, 400, route.errorBody(400, 'We could not parse the JSON body of your request.', 'invalid_json'));
  }

  let answer: Reply;
  let stream = false;
  try {
    ({ stream, reply: answer } = route.handle(parsed.value, ctx));
  } catch (err) {
    if (!(err instanceof InvalidRequest)) throw err;
    return answerPlain(state, x, err.status, route.errorBody(err.status, err.message, null, err.param));
  }
  // Only requests that reach a model consume the plan, so probes and typos don't shift a script.
  x.record.stream = stream;
  const fault = state.nextFault();
  const outcome = plannedOutcome(fault, stream);
  state.log.decide(x.record, fault, outcome);
  await deliver(x, fault, outcome, answer, route.faults);
}
