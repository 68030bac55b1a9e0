// `runway init github [--dir D] [--force] [--json]`: the reference practice as GitHub Actions
// workflows that hand GitHub's own event to `runway server`:
//   runway-release.yml         release published  -> environments with trigger = "release" (production)
//   runway-push-<branch>.yml   push to <branch>   -> environments with trigger = "push:<branch>" (staging)
//   runway-manual-deploy.yml   "Manual deploy"    (workflow_dispatch: environment, ref, reason, emergency)
//   runway-manual-secrets.yml  "Manual secrets"   (workflow_dispatch: environment, names, unset, apply, reason)
// plus .github/release-drafter.yml, a Release Drafter starter (`runway release draft` reads it too).
//
// Each workflow signs $GITHUB_EVENT_PATH with the webhook secret and POSTs it to
// $RUNWAY_URL/webhooks/github, exactly as a repository webhook would, so responsibility comes from
// GitHub's payload (release publisher, pusher, dispatching user) and the server's policy decides.
// The delivery id is `actions-<run id>`: re-running a workflow is a redelivery and starts nothing
// twice. With RUNWAY_TOKEN (a viewer token) the job follows the deploys and fails if one does.
// Use these workflows or a repository webhook; release and push events are de-duplicated across
// both, so configuring both never deploys twice.

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../../config/load.js';
import type { RunwayConfig } from '../../config/types.js';
import { configPath, type GlobalOptions } from '../context.js';
import { CliError, printJson, type Io } from '../io.js';

export interface InitGithubOptions extends GlobalOptions {
  dir?: string;
  force?: boolean;
  json?: boolean;
}

export interface GithubPlan {
  releaseEnvs: string[];
  pushEnvs: Record<string, string[]>;
  allEnvs: string[];
}

export function planFromConfig(config: Pick<RunwayConfig, 'environments'> | undefined): GithubPlan {
  if (!config)
    return { releaseEnvs: ['production'], pushEnvs: { main: ['staging'] }, allEnvs: ['production', 'staging'] };
  const envs = Object.values(config.environments);
  const pushEnvs: Record<string, string[]> = {};
  for (const e of envs) {
    if (e.trigger?.startsWith('push:')) (pushEnvs[e.trigger.slice('push:'.length)] ??= []).push(e.name);
  }
  return {
    releaseEnvs: envs.filter((e) => e.trigger === 'release').map((e) => e.name),
    pushEnvs,
    allEnvs: envs.map((e) => e.name),
  };
}

const SERVER_ENV = {
  RUNWAY_URL: '${{ vars.RUNWAY_URL }}',
  RUNWAY_GITHUB_WEBHOOK_SECRET: '${{ secrets.RUNWAY_GITHUB_WEBHOOK_SECRET }}',
};

// Messages inside "\${VAR:?…}" carry no apostrophe: bash would read it as the start of a quoted
// string there, garbling the message (test/cli/workflows-lint.test.ts runs shellcheck on every block).

/** Sign the event payload and hand it to runway, as a repository webhook would. */
const FORWARD = `set -euo pipefail
: "\${RUNWAY_URL:?set the RUNWAY_URL repository variable to the address of runway server}"
: "\${RUNWAY_GITHUB_WEBHOOK_SECRET:?set the RUNWAY_GITHUB_WEBHOOK_SECRET secret (the webhook secret of runway server)}"
delivery="actions-\${GITHUB_RUN_ID}"
signature="sha256=$(openssl dgst -sha256 -hmac "$RUNWAY_GITHUB_WEBHOOK_SECRET" -r < "$GITHUB_EVENT_PATH" | cut -d' ' -f1)"
status=$(curl -sS -o runway-response.json -w '%{http_code}' -X POST "$RUNWAY_URL/webhooks/github" \\
  -H 'Content-Type: application/json' \\
  -H "X-GitHub-Event: $GITHUB_EVENT_NAME" \\
  -H "X-GitHub-Delivery: $delivery" \\
  -H "X-Hub-Signature-256: $signature" \\
  --data-binary "@$GITHUB_EVENT_PATH")
cat runway-response.json; echo
case "$status" in 2??) ;; *) echo "::error::runway answered HTTP $status"; exit 1 ;; esac
# A redelivery (re-run, or the repository webhook got there first) points at the original delivery.
echo "delivery=$(jq -r 'if .ignored then "" else (.original.id // .deliveryId) end' runway-response.json)" >> "$GITHUB_OUTPUT"
`;

/** With a viewer token: wait for the deploys the delivery started; fail on a refusal or a failed deploy. */
const FOLLOW = `set -euo pipefail
if [ -z "\${RUNWAY_TOKEN:-}" ]; then echo "RUNWAY_TOKEN is not set: not following the deploys"; exit 0; fi
if [ -z "$DELIVERY" ]; then echo "runway ignored the event: nothing to follow"; exit 0; fi
auth="Authorization: Bearer $RUNWAY_TOKEN"
for _ in $(seq 1 120); do
  d=$(curl -sS --fail-with-body -H "$auth" "$RUNWAY_URL/api/deliveries/$DELIVERY")
  case "$(jq -r .status <<< "$d")" in done|failed) break ;; *) sleep 5 ;; esac
done
jq '.result' <<< "$d"
if jq -e '.status != "done" or ([.result.outcomes[]? | select(.outcome != "started")] | length > 0)' <<< "$d" > /dev/null; then
  echo "::error::runway did not start every deploy (see the refusal or error above)"; exit 1
fi
for id in $(jq -r '.result.outcomes[] | .deployId' <<< "$d"); do
  while :; do
    s=$(curl -sS --fail-with-body -H "$auth" "$RUNWAY_URL/api/deploys/$id" | jq -r .status)
    case "$s" in
      pending|running) sleep 10 ;;
      succeeded) echo "deploy $id succeeded"; break ;;
      *) echo "::error::deploy $id ended $s"; exit 1 ;;
    esac
  done
done
`;

/** Copy named secrets of the job's GitHub environment into runway, on behalf of the dispatching user. */
const STAGE_SECRETS = `set -euo pipefail
: "\${RUNWAY_URL:?set the RUNWAY_URL repository variable to the address of runway server}"
: "\${RUNWAY_TOKEN:?set RUNWAY_TOKEN: an automation deployer token (runway token create --name github-actions --role deployer --automation)}"
stage() {
  curl -sS --fail-with-body -X "$1" "$RUNWAY_URL/api/environments/$ENVIRONMENT/secrets/$2" \\
    -H "Authorization: Bearer $RUNWAY_TOKEN" -H "X-Runway-On-Behalf-Of: $GITHUB_ACTOR" \\
    -H 'Content-Type: application/json' --data-binary @- > /dev/null
}
IFS=',' read -ra wanted <<< "$NAMES"
for raw in "\${wanted[@]}"; do
  name=$(echo "$raw" | xargs); [ -n "$name" ] || continue
  jq -e --arg n "$name" 'has($n)' <<< "$ALL_SECRETS" > /dev/null || { echo "::error::the $ENVIRONMENT environment has no secret $name"; exit 1; }
  jq -c --arg n "$name" --arg r "$REASON" '{value: .[$n], reason: $r}' <<< "$ALL_SECRETS" | stage PUT "$name"
  echo "staged $name"
done
IFS=',' read -ra gone <<< "$UNSET"
for raw in "\${gone[@]}"; do
  name=$(echo "$raw" | xargs); [ -n "$name" ] || continue
  echo '{}' | stage DELETE "$name"
  echo "unset $name"
done
`;

/**
 * After "apply": the staged version must now be the applied one. A deploy that replaced no machine
 * (the release already ran everywhere) carries no secrets, and the job must not report success then.
 */
const CHECK_APPLIED = `set -euo pipefail
listing=$(curl -sS --fail-with-body -H "Authorization: Bearer $RUNWAY_TOKEN" "$RUNWAY_URL/api/environments/$ENVIRONMENT/secrets")
staged=$(jq -r .stagedVersion <<< "$listing")
applied=$(jq -r '.appliedVersion // 0' <<< "$listing")
if jq -e .pending <<< "$listing" > /dev/null; then
  echo "::error::the secrets of $ENVIRONMENT are staged (version $staged) but not applied (version $applied): the deploy did not replace every machine, so machines still run the old secrets. Deploy a new release to $ENVIRONMENT to apply them."
  exit 1
fi
echo "secrets version $applied of $ENVIRONMENT applied"
`;

function forwardSteps(): object[] {
  return [
    { name: 'Hand the event to runway', id: 'forward', env: SERVER_ENV, run: FORWARD },
    {
      name: 'Follow the deploys',
      env: {
        RUNWAY_URL: '${{ vars.RUNWAY_URL }}',
        RUNWAY_TOKEN: '${{ secrets.RUNWAY_TOKEN }}',
        DELIVERY: '${{ steps.forward.outputs.delivery }}',
      },
      run: FOLLOW,
    },
  ];
}

const HEADER = '# Written by `runway init github`. Edit freely; `runway init github --force` rewrites it.\n';

export function githubFiles(plan: GithubPlan): Record<string, string> {
  const files: Record<string, unknown> = {};
  const releaseTargets = plan.releaseEnvs.length
    ? plan.releaseEnvs.join(', ')
    : 'the environments with trigger = "release"';
  files['.github/workflows/runway-release.yml'] = {
    name: `Deploy ${releaseTargets} (release published)`,
    on: { release: { types: ['published'] } },
    permissions: { contents: 'read' },
    concurrency: { group: 'runway-release', 'cancel-in-progress': false },
    jobs: {
      deploy: {
        'runs-on': 'ubuntu-latest',
        ...(plan.releaseEnvs.length === 1 ? { environment: plan.releaseEnvs[0] } : {}),
        steps: forwardSteps(),
      },
    },
  };
  const branches = Object.keys(plan.pushEnvs).length ? plan.pushEnvs : { main: [] };
  for (const [branch, envs] of Object.entries(branches)) {
    const slug = branch.replace(/[^A-Za-z0-9._-]+/g, '-');
    files[`.github/workflows/runway-push-${slug}.yml`] = {
      name: `Deploy ${envs.length ? envs.join(', ') : `the environments with trigger = "push:${branch}"`} (push to ${branch})`,
      on: { push: { branches: [branch] } },
      permissions: { contents: 'read' },
      concurrency: { group: `runway-push-${slug}`, 'cancel-in-progress': false },
      jobs: {
        deploy: {
          'runs-on': 'ubuntu-latest',
          ...(envs.length === 1 ? { environment: envs[0] } : {}),
          steps: forwardSteps(),
        },
      },
    };
  }
  const environmentInput = {
    description: 'Environment',
    required: true,
    type: 'choice',
    options: plan.allEnvs.length ? plan.allEnvs : ['production', 'staging'],
  };
  files['.github/workflows/runway-manual-deploy.yml'] = {
    name: 'Manual deploy',
    on: {
      workflow_dispatch: {
        inputs: {
          environment: environmentInput,
          ref: { description: 'Release to deploy (default: the newest release)', required: false, type: 'string' },
          reason: { description: 'Why (required for an emergency)', required: false, type: 'string' },
          emergency: {
            description: 'Emergency break-glass: deploy where policy would refuse, and be responsible for it',
            required: false,
            type: 'boolean',
            default: false,
          },
        },
      },
    },
    permissions: { contents: 'read' },
    'run-name':
      "Manual deploy of ${{ inputs.ref || 'the newest release' }} to ${{ inputs.environment }} by @${{ github.actor }}",
    concurrency: { group: 'runway-manual-${{ inputs.environment }}', 'cancel-in-progress': false },
    jobs: { deploy: { 'runs-on': 'ubuntu-latest', environment: '${{ inputs.environment }}', steps: forwardSteps() } },
  };
  files['.github/workflows/runway-manual-secrets.yml'] = {
    name: 'Manual secrets',
    on: {
      workflow_dispatch: {
        inputs: {
          environment: environmentInput,
          names: {
            description: 'Secrets of this GitHub environment to copy into runway (comma-separated names)',
            required: false,
            type: 'string',
          },
          unset: {
            description: 'Secrets to remove from runway (comma-separated names)',
            required: false,
            type: 'string',
          },
          apply: {
            description: 'Apply now: redeploy what runs, carrying the staged secrets (otherwise the next deploy does)',
            required: false,
            type: 'boolean',
            default: true,
          },
          reason: { description: 'Why', required: false, type: 'string' },
          emergency: {
            description: 'Emergency break-glass for applying to an automatic environment',
            required: false,
            type: 'boolean',
            default: false,
          },
        },
      },
    },
    permissions: { contents: 'read' },
    'run-name': 'Manual secrets for ${{ inputs.environment }} by @${{ github.actor }}',
    concurrency: { group: 'runway-manual-${{ inputs.environment }}', 'cancel-in-progress': false },
    jobs: {
      secrets: {
        'runs-on': 'ubuntu-latest',
        environment: '${{ inputs.environment }}',
        steps: [
          {
            name: 'Stage the secrets in runway',
            // Inputs reach the script as environment variables, never pasted into it.
            env: {
              RUNWAY_URL: '${{ vars.RUNWAY_URL }}',
              RUNWAY_TOKEN: '${{ secrets.RUNWAY_TOKEN }}',
              ENVIRONMENT: '${{ inputs.environment }}',
              NAMES: '${{ inputs.names }}',
              UNSET: '${{ inputs.unset }}',
              REASON: '${{ inputs.reason }}',
              ALL_SECRETS: '${{ toJSON(secrets) }}',
            },
            run: STAGE_SECRETS,
          },
          ...forwardSteps().map((s) => ({ ...s, if: '${{ inputs.apply }}' })),
          {
            name: 'Check the staged secrets were applied',
            if: '${{ inputs.apply }}',
            env: {
              RUNWAY_URL: '${{ vars.RUNWAY_URL }}',
              RUNWAY_TOKEN: '${{ secrets.RUNWAY_TOKEN }}',
              ENVIRONMENT: '${{ inputs.environment }}',
            },
            run: CHECK_APPLIED,
          },
        ],
      },
    },
  };
  const drafter = {
    'name-template': 'v$RESOLVED_VERSION',
    'tag-template': 'v$RESOLVED_VERSION',
    categories: [
      { title: 'Features', labels: ['feature', 'enhancement'] },
      { title: 'Fixes', labels: ['fix', 'bugfix', 'bug'] },
      { title: 'Maintenance', labels: ['chore', 'dependencies'] },
    ],
    'exclude-labels': ['skip-changelog'],
    'change-template': '- $TITLE (#$NUMBER) @$AUTHOR',
    'change-title-escapes': '\\<*_&',
    'version-resolver': {
      major: { labels: ['major', 'breaking'] },
      minor: { labels: ['minor', 'feature', 'enhancement'] },
      patch: { labels: ['patch', 'fix', 'bugfix', 'bug', 'chore'] },
      default: 'patch',
    },
    template:
      '## Changes\n\n$CHANGES\n\n**Full changelog**: https://github.com/$OWNER/$REPOSITORY/compare/$PREVIOUS_TAG...v$RESOLVED_VERSION\n',
  };
  const out: Record<string, string> = {};
  for (const [path, doc] of Object.entries(files)) out[path] = HEADER + stringify(doc, { lineWidth: 0 });
  out['.github/release-drafter.yml'] =
    '# Release Drafter starter, written by `runway init github`. Publishing the drafted release\n' +
    '# deploys it (runway-release.yml); `runway release draft` reads this file too.\n' +
    stringify(drafter, { lineWidth: 0 });
  return out;
}

export async function initGithubCommand(options: InitGithubOptions, io: Io): Promise<number> {
  const root = resolve(io.cwd, options.dir ?? '.');
  let config: RunwayConfig | undefined;
  try {
    config = loadConfig(configPath(options, io));
  } catch (err) {
    // Without a runway.toml the workflows name production (release) and staging (push to main).
    if (!(err instanceof CliError) || options.config) throw err;
  }
  const files = githubFiles(planFromConfig(config));
  const existing = Object.keys(files).filter((f) => existsSync(join(root, f)));
  if (existing.length && !options.force) {
    throw new CliError(
      `${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''} in ${root}; nothing written (--force rewrites them)`,
    );
  }
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  const written = Object.keys(files);
  if (options.json) printJson(io, { dir: root, written, overwritten: existing });
  else {
    io.stdout.write(
      `wrote ${written.length} files in ${relative(io.cwd, root) || '.'}:\n${written.map((f) => `  ${f}${existing.includes(f) ? ' (rewritten)' : ''}`).join('\n')}\n`,
    );
    io.stdout.write(
      "next: set the repository variable RUNWAY_URL, the secrets RUNWAY_GITHUB_WEBHOOK_SECRET (the server's webhook secret) and RUNWAY_TOKEN\n" +
        '(`runway token create --name github-actions --role deployer --automation`), and run `runway server` where GitHub can reach it.\n',
    );
  }
  return 0;
}
