// How commands reach the outside: streams, environment, working directory, and the errors that end
// a command with a documented exit code.

import { EXIT } from '../engine/summary.js';
import type { Output } from './progress-view.js';

export interface Io {
  stdout: Output;
  stderr: Output;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export function processIo(): Io {
  return {
    stdout: { write: (t) => void process.stdout.write(t), isTTY: Boolean(process.stdout.isTTY) },
    stderr: {
      write: (t) => void process.stderr.write(t),
      isTTY: Boolean(process.stderr.isTTY),
      get columns() {
        // Asks the terminal now (one ioctl) instead of trusting the size cached at the last SIGWINCH:
        // on a busy machine the signal can be handled after a redraw that would then erase too few
        // rows of a block the terminal has already re-wrapped. (_refreshSize is tty.WriteStream's own.)
        (process.stderr as { _refreshSize?: () => void })._refreshSize?.();
        return process.stderr.columns;
      },
      onResize(listener) {
        process.stderr.on('resize', listener);
        return () => void process.stderr.off('resize', listener);
      },
    },
    env: process.env,
    cwd: process.cwd(),
  };
}

/** An error the user can act on; `exitCode` is one of EXIT. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.badInput,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function printJson(io: Io, value: unknown): void {
  io.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
