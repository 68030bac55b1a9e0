// Headless Debian Chromium driven by playwright-core (never a downloaded browser build). A missing
// /usr/bin/chromium fails the suite with the command that installs it (`npm test` installs it first:
// scripts/test-services.sh).

import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.RUNWAY_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = resolve('test-artifacts');
export const DOC_SHOTS = resolve('docs/screenshots');

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `the browser tests need Chromium at ${CHROMIUM} (Debian: apt-get update && apt-get install -y chromium; scripts/test-services.sh, run by npm test, does this)`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

/** A browser context signed in to the dashboard with `token` through the sign-in form. */
export async function signIn(
  browser: Browser,
  url: string,
  token: string,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  await page.goto(`${url}/dashboard`);
  await page.waitForURL(/\/dashboard\/login/);
  await page.fill('#token', token);
  await Promise.all([page.waitForURL(/\/dashboard$/), page.click('#sign-in')]);
  return { context, page };
}

/** Save a screenshot as a test artifact (and, with `doc`, as the README's picture of that page: `name`, or the artifact's). */
export async function shot(
  page: Page,
  name: string,
  options: { doc?: boolean; fullPage?: boolean; name?: string } = {},
): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `dashboard-${name}.png`);
  await page.screenshot({ path, fullPage: options.fullPage ?? true });
  if (options.doc) {
    mkdirSync(DOC_SHOTS, { recursive: true });
    await page.screenshot({ path: join(DOC_SHOTS, `${options.name ?? name}.png`), fullPage: false });
  }
  return path;
}
