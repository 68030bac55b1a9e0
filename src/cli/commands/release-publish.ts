// `runway release publish [--version V]`: publish the drafted release — on GitHub when the draft
// came from GitHub, and always in runway's store (notes = the drafted body) — naming the publisher,
// then deploy it to every environment whose trigger is `release`, with the publisher as the
// responsible human. Each deploy starts the one way every deploy starts (src/deploys/): the policy
// decides (trigger "release"), a refusal or a locked environment is reported per environment.

import { loadConfig } from '../../config/load.js';
import type { Release } from '../../domain/types.js';
import { openStore } from '../../store/open-store.js';
import { StoreError } from '../../store/contract.js';
import { EXIT } from '../../engine/summary.js';
import { CliError, printJson, type Io } from '../io.js';
import { cliRequest } from './deploy.js';
import { runCliDeploy } from '../deploy-runner.js';
import { reportError } from '../report-error.js';
import { whoIsAsking } from '../context.js';
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

export async function releasePublishCommand(
  options: ReleasePublishOptions,
  io: Io,
  signal?: AbortSignal,
): Promise<number> {
  const publisher = whoIsAsking(options, io);
  const runwayFile = runwayConfigPath(options, io);
  const { draft, source } = await prepareDraft(options, io);
  const version = draft.tag || draft.version;
  if (!version)
    throw new CliError(
      'the draft has neither a tag nor a version (set tag-template, e.g. "v$RESOLVED_VERSION", or pass --version)',
    );
  if (source.kind !== 'github' && !runwayFile) {
    throw new CliError(
      'nowhere to publish: without GitHub (--repo owner/name and $GITHUB_TOKEN) runway records releases in its store, which needs a runway.toml (--runway-config FILE)',
    );
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
        throw new CliError(
          `release version "${version}" must be 1-128 characters of letters, digits, . _ + - (set tag-template, e.g. "v$RESOLVED_VERSION")`,
        );
      }
      const release: Release = {
        version,
        image: options.image ?? `${config.app.name}:${version}`,
        notes: draft.body,
        createdAtMs: Date.now(),
      };
      const existing = await store.getRelease(config.app.name, version);
      if (existing) {
        throw new CliError(
          `release ${version} already exists in runway's store (published ${new Date(existing.createdAtMs).toISOString()}); releases are immutable`,
        );
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
    if (options.deploy !== false)
      deploys = await deployOnRelease(
        { runwayFile, version, publisher, environments: targets, json: Boolean(options.json) },
        io,
        signal,
      );
    else if (!options.json && targets.length)
      io.stderr.write(`runway: --no-deploy: not deploying to ${targets.join(', ')}\n`);
  }

  const exitCode = deploys.find((d) => d.exitCode !== 0)?.exitCode ?? EXIT.ok;
  if (options.json) {
    printJson(io, {
      ...draftJson(draft),
      publishedTo: published,
      publisher,
      ...(htmlUrl ? { url: htmlUrl } : {}),
      deploys,
    });
  } else {
    io.stdout.write(
      `published ${version}${draft.name && draft.name !== version ? ` (${draft.name})` : ''} to ${published.join(' and ')} by ${publisher}${htmlUrl ? `: ${htmlUrl}` : ''}\n`,
    );
    if (published.includes('github') && !runwayFile)
      io.stdout.write('no runway.toml: nothing recorded in runway and nothing deployed\n');
    else if (options.deploy !== false && deploys.length === 0)
      io.stdout.write('no environment has trigger = "release"; nothing deployed\n');
  }
  return exitCode;
}

/**
 * Deploys a just-published release to each environment triggered by releases, one after the other,
 * with the publisher responsible. With --json each environment's summary (or error) is collected
 * into the one JSON object the command prints.
 */
export async function deployOnRelease(
  opts: { runwayFile: string; version: string; publisher: string; environments: string[]; json: boolean },
  io: Io,
  signal?: AbortSignal,
): Promise<ReleaseDeployResult[]> {
  const results: ReleaseDeployResult[] = [];
  const config = loadConfig(opts.runwayFile);
  const store = await openStore(io.env.RUNWAY_STORE ?? config.store.url, config.dir);
  try {
    for (const env of opts.environments) {
      if (signal?.aborted) break;
      if (!opts.json)
        io.stderr.write(`runway: release ${opts.version} published: deploying to ${env} as ${opts.publisher}\n`);
      // A release trigger, not a CLI deploy: the policy lets the publisher deploy environments with
      // trigger = "release" and names them responsible (docs/policy.md).
      const origin = {
        trigger: 'release' as const,
        initiator: { kind: 'human' as const, name: opts.publisher },
        context: { event: 'release publish', tag: opts.version },
      };
      const request = cliRequest(env, opts.publisher, { release: opts.version, origin });
      try {
        const { code, summary } = await runCliDeploy({
          config,
          store,
          request,
          io,
          json: opts.json,
          quiet: opts.json,
          signal,
        });
        results.push({ env, exitCode: code, ...(opts.json ? { summary } : {}) });
      } catch (err) {
        // The same mapping as any command's errors, reported per environment.
        let said = '';
        const target: Io = opts.json ? { ...io, stdout: { write: (t) => void (said += t), isTTY: false } } : io;
        const exitCode = reportError(err, target, opts.json);
        let error: unknown;
        try {
          error = said ? JSON.parse(said) : undefined;
        } catch {
          error = said;
        }
        results.push({ env, exitCode, ...(error !== undefined ? { summary: error } : {}) });
      }
    }
  } finally {
    await store.close();
  }
  return results;
}
