// GitHub webhooks: verify X-Hub-Signature-256 over the raw body (HMAC-SHA256 with the shared
// secret, compared in constant time) before anything is parsed, then map the event to trigger
// requests. Pure apart from reading the secret file; the server queues the requests
// (src/server/webhook-worker.ts).
//
// Events (payloads as GitHub documents them):
//   ping                           -> answered, nothing else
//   release, action "published"    -> deploy the release (tag_name) to every environment with
//                                     trigger = "release"; the publishing human (sender) initiates
//   push to refs/heads/<branch>    -> deploy `sha-<commit>` to every environment with trigger
//                                     "push:<branch>"; automation initiates, the pusher is context
//   workflow_dispatch              -> "Manual deploy" (inputs: environment, ref/release, reason,
//                                     emergency) or, from a workflow whose file name mentions
//                                     secrets, "Manual secrets" (apply the staged secrets with a
//                                     deploy); the sender initiates
//   anything else                  -> ignored (202)

import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RunwayConfig } from '../config/types.js';
import type { Release } from '../domain/types.js';
import { refuseSharedFile } from '../secrets/key.js';
import type { Initiator, RequestTrigger } from '../deploys/policy.js';

export const SIGNATURE_HEADER = 'x-hub-signature-256';
export const EVENT_HEADER = 'x-github-event';
export const DELIVERY_HEADER = 'x-github-delivery';

/** `sha256=` + hex HMAC-SHA256(secret, body), as GitHub sends it. */
export function signatureFor(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Constant-time check of a X-Hub-Signature-256 header against the raw body. */
export function verifySignature(secret: string, body: Buffer, header: string | undefined | null): boolean {
  const expected = Buffer.from(signatureFor(secret, body), 'utf8');
  const given = Buffer.from(header ?? '', 'utf8');
  // timingSafeEqual needs equal lengths; compare against itself on a length mismatch so the time
  // taken does not depend on how much of the header was right.
  if (given.length !== expected.length) {
    timingSafeEqual(expected, expected);
    return false;
  }
  return timingSafeEqual(given, expected);
}

export class WebhookSecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookSecretError';
  }
}

/**
 * The webhook secret: $RUNWAY_GITHUB_WEBHOOK_SECRET, else the file `[github] webhook_secret_file`
 * names. Undefined when neither is set (the endpoint then stays off); a named file that is missing
 * or empty is an error (the server does not start on a half-done configuration).
 */
export function resolveWebhookSecret(config: Pick<RunwayConfig, 'github'>, env: NodeJS.ProcessEnv): string | undefined {
  const inline = env.RUNWAY_GITHUB_WEBHOOK_SECRET;
  if (inline !== undefined && inline !== '') return inline;
  const file = config.github?.webhookSecretFile;
  if (!file) return undefined;
  let text: string;
  try {
    refuseSharedFile(file, (m) => new WebhookSecretError(`github.webhook_secret_file ${m}`));
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof WebhookSecretError) throw err;
    throw new WebhookSecretError(
      `github.webhook_secret_file ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : 'cannot be read'}`,
    );
  }
  const secret = text.replace(/\r?\n$/, '');
  if (secret === '') throw new WebhookSecretError(`github.webhook_secret_file ${file} is empty`);
  return secret;
}

/** One deploy an event asks for, before policy. */
export interface TriggerRequest {
  env: string;
  /** Release version to deploy; null = the newest release (apply-secrets: what runs now). */
  release: string | null;
  /** A release the event brings, created in the store if absent. */
  newRelease?: Release;
  action: 'deploy' | 'apply-secrets';
  trigger: RequestTrigger;
  branch?: string;
  initiator: Initiator;
  emergency: boolean;
  reason: string | null;
  /** Kept with the deploy and in the ledger (pusher, commit, release id, workflow, ...). */
  context: Record<string, unknown>;
}

export type EventMapping =
  | { kind: 'ping'; zen: string | null }
  | { kind: 'ignored'; why: string; otherRepository?: boolean }
  | { kind: 'requests'; eventKey: string | null; requests: TriggerRequest[] };

type Json = Record<string, unknown>;

function obj(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

function str(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function truthy(value: unknown): boolean {
  return value === true || value === 'true';
}

/** A bot account (Release Drafter, GitHub Actions, Dependabot) is automation, not a person. */
function initiatorOf(sender: Json): Initiator {
  const login = str(sender.login) ?? '';
  const bot = sender.type === 'Bot' || login.endsWith('[bot]');
  return { kind: bot ? 'automation' : 'human', name: login };
}

function firstLine(text: unknown, max = 200): string | null {
  const s = str(text);
  if (s === null) return null;
  const line = s.split('\n', 1)[0]!;
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

const RELEASE_VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

export function mapGithubEvent(
  event: string,
  payload: unknown,
  config: Pick<RunwayConfig, 'app' | 'environments'> & Partial<Pick<RunwayConfig, 'github'>>,
): EventMapping {
  const body = obj(payload);
  const repo = obj(body.repository);
  // An organisation-wide webhook shares its secret with every repository: a valid signature says
  // the event is from GitHub, not that it is about this app's repository.
  const expected = config.github?.repository;
  if (expected && event !== 'ping') {
    const from = str(repo.full_name);
    if (!from || from.toLowerCase() !== expected.toLowerCase()) {
      return {
        kind: 'ignored',
        why: `the event is about ${from ? `repository ${from}` : 'no repository'}, not ${expected} ([github] repository)`,
        otherRepository: true,
      };
    }
  }
  const repoKey = String(repo.id ?? repo.full_name ?? 'repo');
  const envs = Object.values(config.environments);
  switch (event) {
    case 'ping':
      return { kind: 'ping', zen: str(body.zen) };

    case 'release': {
      const action = str(body.action);
      const release = obj(body.release);
      if (action !== 'published')
        return { kind: 'ignored', why: `release action "${action ?? '?'}" is not "published"` };
      if (release.draft === true) return { kind: 'ignored', why: 'the release is a draft' };
      if (release.prerelease === true) return { kind: 'ignored', why: 'prereleases are not deployed' };
      const tag = str(release.tag_name);
      if (!tag || !RELEASE_VERSION.test(tag))
        return {
          kind: 'ignored',
          why: `release tag ${JSON.stringify(tag)} is not a runway version (letters, digits, . _ + -)`,
        };
      const targets = envs.filter((e) => e.trigger === 'release');
      if (targets.length === 0) return { kind: 'ignored', why: 'no environment has trigger = "release"' };
      const publishedAt = Date.parse(str(release.published_at) ?? '');
      const newRelease: Release = {
        version: tag,
        image: `${config.app.name}:${tag}`,
        createdAtMs: Number.isFinite(publishedAt) ? publishedAt : 0,
      };
      const notes = str(release.body);
      if (notes) newRelease.notes = notes;
      const sender = obj(body.sender);
      const context = {
        event: 'release',
        releaseId: release.id ?? null,
        tag,
        name: str(release.name),
        target: str(release.target_commitish),
        author: str(obj(release.author).login),
        publisher: str(sender.login),
        repository: str(repo.full_name),
      };
      return {
        kind: 'requests',
        eventKey: `release:${repoKey}:${String(release.id ?? tag)}:published`,
        requests: targets.map((env) => ({
          env: env.name,
          release: tag,
          newRelease,
          action: 'deploy' as const,
          trigger: 'release' as const,
          initiator: initiatorOf(sender),
          emergency: false,
          reason: `release ${tag} published`,
          context,
        })),
      };
    }

    case 'push': {
      const ref = str(body.ref) ?? '';
      if (!ref.startsWith('refs/heads/')) return { kind: 'ignored', why: `push to ${ref || '?'} is not a branch` };
      const branch = ref.slice('refs/heads/'.length);
      const after = str(body.after) ?? '';
      if (body.deleted === true || /^0+$/.test(after)) return { kind: 'ignored', why: `branch ${branch} was deleted` };
      if (!/^[0-9a-f]{7,64}$/i.test(after)) return { kind: 'ignored', why: 'push without a commit (after)' };
      const targets = envs.filter((e) => e.trigger === `push:${branch}`);
      if (targets.length === 0) return { kind: 'ignored', why: `no environment has trigger = "push:${branch}"` };
      const version = `sha-${after.slice(0, 12).toLowerCase()}`;
      const head = obj(body.head_commit);
      const pusher = obj(body.pusher);
      const newRelease: Release = {
        version,
        image: `${config.app.name}:${after.toLowerCase()}`,
        createdAtMs: Date.parse(str(head.timestamp) ?? '') || 0,
      };
      const message = firstLine(head.message);
      if (message) newRelease.notes = message;
      const context = {
        event: 'push',
        branch,
        commit: after,
        before: str(body.before),
        message,
        pusher: str(pusher.name),
        sender: str(obj(body.sender).login),
        repository: str(repo.full_name),
      };
      return {
        kind: 'requests',
        eventKey: `push:${repoKey}:${ref}:${after.toLowerCase()}`,
        requests: targets.map((env) => ({
          env: env.name,
          release: version,
          newRelease,
          action: 'deploy' as const,
          trigger: 'push' as const,
          branch,
          initiator: { kind: 'automation' as const, name: 'github' },
          emergency: false,
          reason: `push to ${branch} (${after.slice(0, 7)})`,
          context,
        })),
      };
    }

    case 'workflow_dispatch': {
      const inputs = obj(body.inputs);
      const workflow = str(body.workflow) ?? '';
      const file = workflow.split('/').pop() ?? '';
      const secrets = /secret/i.test(file) || inputs.operation === 'secrets';
      const env = str(inputs.environment);
      if (!env)
        return {
          kind: 'ignored',
          why: `workflow_dispatch of ${workflow || 'a workflow'} without an "environment" input`,
        };
      const sender = obj(body.sender);
      const reason = str(inputs.reason);
      const context = {
        event: 'workflow_dispatch',
        workflow,
        ref: str(body.ref),
        sender: str(sender.login),
        repository: str(repo.full_name),
      };
      if (secrets) {
        if (inputs.apply === false || inputs.apply === 'false')
          return { kind: 'ignored', why: 'Manual secrets with apply = false: the change stays staged' };
        return {
          kind: 'requests',
          eventKey: null,
          requests: [
            {
              env,
              release: null,
              action: 'apply-secrets',
              trigger: 'secrets',
              initiator: initiatorOf(sender),
              emergency: truthy(inputs.emergency),
              reason,
              context,
            },
          ],
        };
      }
      const release = str(inputs.ref) ?? str(inputs.release);
      return {
        kind: 'requests',
        eventKey: null,
        requests: [
          {
            env,
            release,
            action: 'deploy',
            trigger: 'manual',
            initiator: initiatorOf(sender),
            emergency: truthy(inputs.emergency),
            reason,
            context,
          },
        ],
      };
    }

    default:
      return { kind: 'ignored', why: `event "${event}" is not one runway acts on` };
  }
}
