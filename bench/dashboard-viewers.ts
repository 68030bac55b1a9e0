// Live viewers for bench/dashboard.ts, in a process of their own: reads a deploy id on stdin, opens
// N SSE streams of it (as the deploy page's EventSource does), reads each to its `end` event, and
// prints one JSON line: how many saw the end, the step events each saw, bytes, when the last ended.

import { createInterface } from 'node:readline';

const [url, cookie, count] = process.argv.slice(2) as [string, string, string];
const n = Number(count);
process.stdout.write('ready\n');
const id = await new Promise<string>((resolve) =>
  createInterface({ input: process.stdin }).once('line', (line) => resolve(line.trim())),
);

let ended = 0;
let steps = 0;
let bytes = 0;
let lastEndAt = 0;
await Promise.all(
  Array.from({ length: n }, async () => {
    const res = await fetch(`${url}/api/deploys/${id}/events`, { headers: { cookie } });
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      bytes += chunk.byteLength;
      buffer += decoder.decode(chunk, { stream: true });
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const message = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = /^event: (\w+)/.exec(message)?.[1];
        const data = message.slice(message.indexOf('data: ') + 6);
        // Counted without parsing: parsing is the browsers' work, on their machines, not the server's.
        if (event === 'batch')
          steps +=
            (data.match(/"s":"(succeeded|failed|skipped)"/g) ?? []).length - (data.match(/"t":"status"/g) ?? []).length;
        if (event === 'end') {
          ended++;
          lastEndAt = Math.max(lastEndAt, Date.now());
        }
      }
    }
  }),
);
process.stdout.write(`${JSON.stringify({ viewers: n, ended, steps, bytes, lastEndAt })}\n`);
process.exit(0);
