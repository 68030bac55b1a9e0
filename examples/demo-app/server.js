// The demo app's web process: reports its release on `/` and its health on `/up`.
// Runs on plain Node (no build step). Environment, as the `local` provider sets it:
//   PORT, RUNWAY_RELEASE, RUNWAY_MACHINE_ID, RUNWAY_PROCESS_GROUP, plus the release's [env] and the
//   environment's variables. Knobs for demos and tests:
//   DEMO_NEVER_HEALTHY=1   `/up` always answers 503 (a release that never passes checks)
//   DEMO_EXIT_ON_BOOT=1    exit with code 1 right after starting (a release that crashes on boot)
//   DEMO_ERROR_RATE=0.25   that share of requests other than `/up` answer 500 (a release that passes its
//                          health check but hurts users: what analysis catches)
//   GET /slow?ms=N         answers after N ms (requests in flight while a machine drains)
//   GET /metrics           Prometheus' text format: demo_http_requests_total{release,machine,code}
//                          (what a Prometheus scrapes for analysis' query source; docs/analysis.md)
import http from 'node:http';

const port = Number(process.env.PORT ?? 3000);
const release = process.env.RUNWAY_RELEASE ?? 'dev';
const machine = process.env.RUNWAY_MACHINE_ID ?? 'local';
const healthy = process.env.DEMO_NEVER_HEALTHY !== '1';
const errorRate = Number(process.env.DEMO_ERROR_RATE ?? 0);
// Every 1/errorRate-th request fails (not at random): the share is exact whatever the traffic.
let served = 0;
/** Answers by status code, for /metrics. */
const answered = new Map();

function count(code) {
  answered.set(code, (answered.get(code) ?? 0) + 1);
}

function metrics(res) {
  const lines = [
    '# HELP demo_http_requests_total Requests answered, by status code.',
    '# TYPE demo_http_requests_total counter',
  ];
  for (const [code, n] of answered)
    lines.push(`demo_http_requests_total{release="${release}",machine="${machine}",code="${code}"} ${n}`);
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
  res.end(lines.join('\n') + '\n');
}

if (process.env.DEMO_EXIT_ON_BOOT === '1') {
  console.error(`web ${machine} ${release}: crashing on boot (DEMO_EXIT_ON_BOOT=1)`);
  process.exit(1);
}

function reply(res) {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ release, machine, greeting: process.env.GREETING ?? 'hello', pid: process.pid }) + '\n');
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/up') {
    res.writeHead(healthy ? 200 : 503, { 'content-type': 'text/plain' });
    res.end(healthy ? 'ok\n' : `${release} is not ready\n`);
    return;
  }
  if (url.pathname === '/metrics') {
    metrics(res);
    return;
  }
  served++;
  res.once('finish', () => count(res.statusCode));
  if (errorRate > 0 && Math.floor(served * errorRate) > Math.floor((served - 1) * errorRate)) {
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ release, machine, error: 'DEMO_ERROR_RATE' }) + '\n');
    return;
  }
  if (url.pathname === '/slow') {
    setTimeout(() => reply(res), Number(url.searchParams.get('ms') ?? 1000));
    return;
  }
  reply(res);
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () =>
  console.log(`web ${machine} ${release} listening on 127.0.0.1:${server.address().port}`),
);

// Graceful stop: finish requests in flight, close idle keep-alive connections, exit.
function stop(signal) {
  console.log(`web ${machine} ${release}: ${signal}, finishing requests in flight`);
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 8_000).unref();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
