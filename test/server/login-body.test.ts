// POST /dashboard/login reads at most a small bounded body: a 400 MiB body is refused with 413 and the
// server's memory grows by far less than the body (a few MB). The server is a real `runway server` process
// (its memory is read from /proc); the body is streamed from a generator, never held whole here.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { project, spawnCli, type Project } from '../cli/helpers.js';
import { CONTROL_CONFIG } from './harness.js';

const MiB = 1024 * 1024;

/** 400 MiB in 64 KiB chunks: one buffer, yielded again and again. */
function* body400MiB(): Generator<Buffer> {
  const chunk = Buffer.alloc(64 * 1024, 'a');
  for (let sent = 0; sent < 400 * MiB; sent += chunk.length) yield chunk;
}

function procStatus(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/** Send the body until the server answers (or drops the connection); the status and how much was sent. */
function upload(url: string, chunked: boolean): Promise<{ status: number | null; sentBytes: number }> {
  return new Promise((resolve, reject) => {
    const u = new URL('/dashboard/login', url);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', origin: u.origin };
    if (!chunked) headers['content-length'] = String(400 * MiB);
    const req = request(u, { method: 'POST', headers });
    let status: number | null = null;
    let sentBytes = 0;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      req.destroy();
      resolve({ status, sentBytes });
    };
    req.on('response', (res) => {
      status = res.statusCode ?? null;
      res.resume();
      res.on('end', finish);
    });
    req.on('error', (err) => (status === null && sentBytes === 0 ? reject(err) : finish()));
    req.on('close', () => (status !== null ? finish() : undefined));
    const chunks = body400MiB();
    const pump = () => {
      while (!settled && status === null) {
        const next = chunks.next();
        if (next.done) {
          req.end();
          return;
        }
        sentBytes += next.value.length;
        if (!req.write(next.value)) {
          req.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}

describe('POST /dashboard/login body limit', () => {
  let p: Project;
  let server: ReturnType<typeof spawnCli>;
  let url: string;
  before(async () => {
    p = project(CONTROL_CONFIG);
    writeFileSync(p.config, CONTROL_CONFIG);
    server = spawnCli(['server', '--port', '0'], p.dir);
    url = await new Promise<string>((resolve, reject) => {
      let seen = '';
      server.child.stderr!.on('data', (d: Buffer) => {
        seen += d.toString();
        const m = /listening on (http:\/\/\S+)/.exec(seen);
        if (m) resolve(m[1]!);
      });
      server.child.once('exit', (code) => reject(new Error(`server exited ${code}: ${seen}`)));
    });
  });
  after(async () => {
    server.child.kill('SIGTERM');
    await server.done;
    p.cleanup();
  });

  for (const chunked of [false, true]) {
    it(`a 400 MiB body ${chunked ? 'sent chunked (no length)' : 'with its Content-Length'} is refused with 413; the server's memory grows by far less than the body`, async () => {
      const pid = server.child.pid!;
      // A first upload warms the path (code compiled, buffers sized), so the measured one counts
      // only what a body costs: read whole, 400 MiB would grow the server by hundreds of MB.
      assert.equal((await upload(url, chunked)).status, 413);
      // Reset the peak: from here VmHWM is the highest resident size the upload caused.
      writeFileSync(`/proc/${pid}/clear_refs`, '5');
      const rssBefore = procStatus(pid, 'VmRSS');
      const { status, sentBytes } = await upload(url, chunked);
      const peak = procStatus(pid, 'VmHWM');
      assert.equal(status, 413);
      assert.ok(sentBytes > 64 * 1024, `the client was sending (${sentBytes} bytes)`);
      const grew = peak - rssBefore;
      // Far below the body: a GC cycle or a socket buffer of the server moves a few MB either way on a busy machine.
      assert.ok(grew < 24 * MiB, `the server's peak memory grew by ${(grew / MiB).toFixed(1)} MiB`);
      // And it still answers.
      const page = await fetch(new URL('/dashboard/login', url));
      assert.equal(page.status, 200);
    });
  }
});
