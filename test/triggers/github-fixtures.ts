// Webhook payloads in the shapes GitHub documents ("Webhook events and payloads": release, push,
// workflow_dispatch, ping), trimmed to the fields a reader needs but keeping their nesting and types.

const repository = {
  id: 186853002,
  node_id: 'MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=',
  name: 'shop',
  full_name: 'octo-org/shop',
  private: true,
  owner: { login: 'octo-org', id: 6811672, type: 'Organization' },
  html_url: 'https://github.com/octo-org/shop',
  default_branch: 'main',
};

const user = (login: string, id: number, type: 'User' | 'Bot' = 'User') => ({
  login,
  id,
  node_id: `MDQ6VXNlcj${id}`,
  avatar_url: `https://avatars.githubusercontent.com/u/${id}?v=4`,
  html_url: `https://github.com/${login}`,
  type,
  site_admin: false,
});

/** A stable release id per tag (GitHub's ids are numbers unique per release). */
export function releaseId(tag: string): number {
  return 17372790 + [...tag].reduce((n, ch) => (n * 31 + ch.charCodeAt(0)) % 1_000_000, 7);
}

export function releasePublished(
  tag = 'v1.2.0',
  sender = user('grace', 21031067),
  overrides: Record<string, unknown> = {},
) {
  return {
    action: 'published',
    release: {
      url: `https://api.github.com/repos/octo-org/shop/releases/${tag.length * 1000}`,
      html_url: `https://github.com/octo-org/shop/releases/tag/${tag}`,
      id: releaseId(tag),
      node_id: 'MDc6UmVsZWFzZTE3MzcyNzkw',
      tag_name: tag,
      target_commitish: 'main',
      name: tag,
      draft: false,
      author: user('github-actions[bot]', 41898282, 'Bot'),
      prerelease: false,
      created_at: '2026-11-02T10:00:00Z',
      published_at: '2026-11-02T10:05:00Z',
      assets: [],
      body: '## Changes\n\n- Add search (#2) @ada\n',
      ...overrides,
    },
    repository,
    organization: { login: 'octo-org', id: 6811672 },
    sender,
  };
}

export function push(
  branch = 'main',
  after = '6113728f27ae82c7b1a177c8d03f9e96e0adf246',
  overrides: Record<string, unknown> = {},
) {
  return {
    ref: `refs/heads/${branch}`,
    before: '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c',
    after,
    created: false,
    deleted: false,
    forced: false,
    base_ref: null,
    compare: `https://github.com/octo-org/shop/compare/0d1a26e67d8f...${after.slice(0, 12)}`,
    commits: [
      {
        id: after,
        tree_id: 'f9d2a07e9488b91af2641b26b9407fe22a451433',
        distinct: true,
        message: 'Fix the cart total\n\nRounding was off by a cent.',
        timestamp: '2026-11-02T11:00:00+01:00',
        url: `https://github.com/octo-org/shop/commit/${after}`,
        author: { name: 'Ada Lovelace', email: 'ada@example.com', username: 'ada' },
        committer: { name: 'GitHub', email: 'noreply@github.com', username: 'web-flow' },
        added: [],
        removed: [],
        modified: ['app/cart.rb'],
      },
    ],
    head_commit: {
      id: after,
      tree_id: 'f9d2a07e9488b91af2641b26b9407fe22a451433',
      distinct: true,
      message: 'Fix the cart total\n\nRounding was off by a cent.',
      timestamp: '2026-11-02T11:00:00+01:00',
      url: `https://github.com/octo-org/shop/commit/${after}`,
      author: { name: 'Ada Lovelace', email: 'ada@example.com', username: 'ada' },
      committer: { name: 'GitHub', email: 'noreply@github.com', username: 'web-flow' },
      added: [],
      removed: [],
      modified: ['app/cart.rb'],
    },
    pusher: { name: 'ada', email: 'ada@example.com' },
    repository,
    organization: { login: 'octo-org', id: 6811672 },
    sender: user('ada', 583231),
    ...overrides,
  };
}

export function workflowDispatch(workflow: string, inputs: Record<string, unknown>, sender = user('grace', 21031067)) {
  return {
    inputs,
    ref: 'refs/heads/main',
    repository,
    organization: { login: 'octo-org', id: 6811672 },
    sender,
    workflow,
  };
}

export function ping() {
  return {
    zen: 'Design for failure.',
    hook_id: 109948940,
    hook: {
      type: 'Repository',
      id: 109948940,
      name: 'web',
      active: true,
      events: ['release', 'push', 'workflow_dispatch'],
      config: { content_type: 'json', insecure_ssl: '0', url: 'https://runway.example/webhooks/github' },
    },
    repository,
    sender: user('grace', 21031067),
  };
}

export const botSender = user('release-drafter[bot]', 1000001, 'Bot');
export { user };
