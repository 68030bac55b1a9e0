// `runway release publish [--version V]`: publish the drafted release — on GitHub when the draft
// came from GitHub, and always in runway's store (notes = the drafted body) — naming the publisher,
// then deploy it to every environment whose trigger is `release`, with the publisher as the
// responsible human. The deploy step (deployOnRelease) is kept apart so the control plane can take
// it over (and apply its policy) once it exists.

import { userInfo } from 'node:os';
import { loadConfig } from '../../config/load.js';
import type { Release } from '../../domain/types.js';
import { openStore } from '../../store/open-store.js';
import { StoreError } from '../../store/contract.js';
import { EXIT } from '../../engine/summary.js';
import { CliError, printJson, type Io } from '../io.js';
import { deployCommand } from './deploy.js';
import { draftJson, prepareDraft, runwayConfigPath, saveDraft, type ReleaseDraftOptions } from './release-draft.js';

export interface ReleasePublishOptions extends ReleaseDraftOptions {
  as?: string;
  image?: string;
  /** Commander's `--no-deploy` sets this to false. */
  deploy?: boolean;
}

const STORE_VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

export interface ReleaseDeployResult {
  env: string;
  exitCode: number;
  summary?: unknown;
}

export async function releasePublishCommand(options: ReleasePublishOptions, io: Io, signal?: AbortSignal): Promise<number> {
  const publisher = options.as ?? io.env.RUNWAY_USER ?? userInfo().username;
  const runwayFile = runwayConfigPath(options, io);
  const { draft, source } = await prepareDraft(options, io);
  const version = draft.tag || draft.version;
  if (!version) throw new CliError('the draft has neither a tag nor a version (set tag-template, e.g. "v$RESOLVED_VERSION", or pass --version)');
  if (source.kind !== 'github' && !runwayFile) {
    throw new CliError('nowhere to publish: without GitHub (--repo owner/name and $GITHUB_TOKEN) runway records releases in its store, which needs a runway.toml (--runway-config FILE)');
  }
  const published: string[] = [];
  let htmlUrl: string | undefined;

  if (source.kind === 'github') {
    const saved = await saveDraft(source.github, draft, false);
    htmlUrl = saved.html_url;
    published.push('github');
  }

  let deploys: ReleaseDeployResult[] = [];
  if (runwayFile) {
    const config = loadConfig(runwayFile);
    const store = await openStore(io.env.RUNWAY_STORE ?? config.store.url, config.dir);
    try {
      if (!STORE_VERSION.test(version)) {
        throw new CliError(`release version "${version}" must be 1-128 characters of letters, digits, . _ + - (set tag-template, e.g. "v$RESOLVED_VERSION")`);
      }
      const release: Release = { version, image: options.image ?? `${config.app.name}:${version}`, notes: draft.body, createdAtMs: Date.now() };
      const existing = await store.getRelease(config.app.name, version);
      if (existing) {
        throw new CliError(`release ${version} already exists in runway's store (published ${new Date(existing.createdAtMs).toISOString()}); releases are immutable`);
      }
      try {
        await store.createRelease(config.app.name, release);
      } catch (err) {
        if (err instanceof StoreError && err.kind === 'conflict') throw new CliError(err.message);
        throw err;
      }
      published.push('store');
    } finally {
      await store.close();
    }
    const targets = Object.values(config.environments)
      .filter((env) => env.trigger === 'release')
      .map((env) => env.name);
    if (options.deploy !== false) deploys = await deployOnRelease({ runwayFile, version, publisher, environments: targets, json: Boolean(options.json) }, io, signal);
    else if (!options.json && targets.length) io.stderr.write(`runway: --no-deploy: not deploying to ${targets.join(', ')}\n`);
  }

  const exitCode = deploys.find((d) => d.exitCode !== 0)?.exitCode ?? EXIT.ok;
  if (options.json) {
    printJson(io, { ...draftJson(draft), publishedTo: published, publisher, ...(htmlUrl ? { url: htmlUrl } : {}), deploys });
  } else {
    io.stdout.write(`published ${version}${draft.name && draft.name !== version ? ` (${draft.name})` : ''} to ${published.join(' and ')} by ${publisher}${htmlUrl ? `: ${htmlUrl}` : ''}\n`);
    if (published.includes('github') && !runwayFile) io.stdout.write('no runway.toml: nothing recorded in runway and nothing deployed\n');
    else if (options.deploy !== false && deploys.length === 0) io.stdout.write('no environment has trigger = "release"; nothing deployed\n');
  }
  return exitCode;
}

/**
 * Deploys a just-published release to each environment triggered by releases, one after the other,
 * with the publisher responsible. Until the control plane exists this runs `runway deploy`.
 */
export async function deployOnRelease(
  opts: { runwayFile: string; version: string; publisher: string; environments: string[]; json: boolean },
  io: Io,
  signal?: AbortSignal,
): Promise<ReleaseDeployResult[]> {
  const results: ReleaseDeployResult[] = [];
  for (const env of opts.environments) {
    if (signal?.aborted) break;
    if (!opts.json) io.stderr.write(`runway: release ${opts.version} published: deploying to ${env} as ${opts.publisher}\n`);
    let captured = '';
    const target: Io = opts.json ? { ...io, stdout: { write: (t) => void (captured += t), isTTY: false } } : io;
    let exitCode: number;
    try {
      // A release trigger, not a CLI deploy: the policy lets the publisher deploy environments with
      // trigger = "release" and names them responsible (docs/policy.md).
      const origin = { trigger: 'release' as const, initiator: { kind: 'human' as const, name: opts.publisher }, context: { event: 'release publish', tag: opts.version } };
      exitCode = await deployCommand({ config: opts.runwayFile, env, release: opts.version, as: opts.publisher, json: opts.json, origin }, target, signal);
    } catch (err) {
      // The same mapping as any command's errors, reported per environment.
      const { reportError } = await import('../program.js');
      exitCode = reportError(err, target, opts.json);
    }
    let summary: unknown;
    if (opts.json && captured.trim()) {
      try {
        summary = JSON.parse(captured);
      } catch {
        summary = captured;
      }
    }
    results.push({ env, exitCode, ...(summary !== undefined ? { summary } : {}) });
  }
  return results;
}
