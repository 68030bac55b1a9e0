// The version `runway --version` prints: package.json's, read from the package itself so that it
// is right for `npm link`, `npx runway` and `node dist/cli/main.js` alike (src/ and dist/ sit at
// the same depth).

import { readFileSync } from 'node:fs';

export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
