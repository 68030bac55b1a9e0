#!/usr/bin/env node
import { processIo } from './io.js';
import { runCli } from './program.js';

// First Ctrl-C asks the deploy to stop cleanly (within one in-flight operation per machine, then
// settle); a second one exits at once.
const controller = new AbortController();
let interrupts = 0;
process.on('SIGINT', () => {
  interrupts++;
  if (interrupts === 1) {
    process.stderr.write('\nrunway: stopping after in-flight operations (Ctrl-C again to exit now)\n');
    controller.abort('SIGINT');
  } else process.exit(130);
});
process.on('SIGTERM', () => controller.abort('SIGTERM'));
// `runway … | head`: the reader went away; stop writing rather than crash on EPIPE.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

const code = await runCli(process.argv.slice(2), processIo(), controller.signal);
process.exitCode = code;
