// The physical floor for a Node proxy: node:http in, an undici keep-alive pool out, bodies streamed both ways,
// nothing parsed or swapped. `node bench/floor.mjs UPSTREAM_ORIGIN [PORT]`; prints its URL on stderr.
// `pool.stream` writes the upstream body straight into the response: on this machine it costs about half the CPU
// of `pool.request` + `stream.pipeline` (≈ 100 µs vs ≈ 220 µs per request), and a floor should be the cheapest.
// A client that goes away ends `res`, which makes undici abort the upstream request.
import { createServer } from 'node:http';
import { Pool } from 'undici';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'expect', 'host', 'proxy-connection', 'te', 'trailer']);
const endToEnd = (headers) => Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));

const pool = new Pool(process.argv[2], { pipelining: 1, keepAliveTimeout: 30_000 });

const server = createServer({ noDelay: true, keepAliveTimeout: 65_000 }, (req, res) => {
  const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : req;
  pool
    .stream({ path: req.url, method: req.method, headers: endToEnd(req.headers), body }, ({ statusCode, headers }) => {
      res.writeHead(statusCode, endToEnd(headers));
      return res;
    })
    .catch(() => {
      if (res.headersSent) res.destroy();
      else res.writeHead(502).end();
    });
});
server.requestTimeout = 0;
server.listen(Number(process.argv[3] ?? 0), '127.0.0.1', () => {
  process.stderr.write(`floor listening on http://127.0.0.1:${server.address().port}\n`);
});
