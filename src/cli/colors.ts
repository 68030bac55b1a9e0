// Colours for human output: on when standard output is a terminal (or FORCE_COLOR is set), off when
// NO_COLOR is set. picocolors' own default also turns them on whenever CI is set, which would put
// escape codes into CI logs and into the output scripts read.

import { createColors } from 'picocolors';

const env = process.env;
const enabled = !('NO_COLOR' in env) && ('FORCE_COLOR' in env || Boolean(process.stdout.isTTY));

export const pc = createColors(enabled);
