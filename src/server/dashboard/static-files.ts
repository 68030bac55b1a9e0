// What the dashboard serves besides rendered pages: its static files, and the headers every page
// carries.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Every page's headers: HTML never cached, scripts only our own, never framed. */
export const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-frame-options': 'DENY',
  // same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on form posts.
  'referrer-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
};

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** Static files: ours (assets/, next to this module in src/ and copied to dist/ by the build) and uPlot's. */
export function assetFiles(): Map<string, { body: string; type: string }> {
  const ours = [join(here, 'assets'), join(here, '../../../src/server/dashboard/assets')];
  const dir = ours.find((d) => {
    try {
      readFileSync(join(d, 'dashboard.css'));
      return true;
    } catch {
      return false;
    }
  });
  const files = new Map<string, { body: string; type: string }>();
  const uplotDir = dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
  const add = (name: string, path: string) =>
    files.set(name, {
      body: readFileSync(path, 'utf8'),
      type: name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8',
    });
  for (const name of ['dashboard.css', 'common.js', 'overview.js', 'deploy.js', 'health.js'])
    if (dir) add(name, join(dir, name));
  add('uPlot.iife.min.js', join(uplotDir, 'uPlot.iife.min.js'));
  add('uPlot.min.css', join(uplotDir, 'uPlot.min.css'));
  return files;
}
