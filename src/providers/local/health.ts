// One run of a machine's checks: an http check passes on a 2xx/3xx answer within its timeout, a tcp
// check when a connection opens. Each run uses a fresh connection (no keep-alive), as Fly's do.

import { request } from 'node:http';
import { connect } from 'node:net';
import type { CheckConfig } from '../../domain/types.js';
import { HOST } from './ports.js';

export function runCheck(check: CheckConfig, port: number): Promise<boolean> {
  return check.type === 'tcp' ? tcpCheck(port, check.timeoutMs) : httpCheck(port, check.path ?? '/', check.timeoutMs);
}

export function httpCheck(port: number, path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(ok);
    };
    const req = request(
      {
        host: HOST,
        port,
        path,
        method: 'GET',
        agent: false,
        headers: { connection: 'close', 'user-agent': 'runway-check' },
      },
      (res) => {
        const ok = res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 400;
        res.resume();
        res.once('end', () => finish(ok));
        res.once('error', () => finish(false));
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      finish(false);
    }, timeoutMs);
    req.once('error', () => finish(false));
    req.end();
  });
}

export function tcpCheck(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}
