// What may import what in runway: the architecture, as rules `npm run lint` checks (dependency-cruiser).
// docs/architecture.md draws the same layers as a picture. From the pure core outwards:
//
//   domain      the product's words (types, plan, clock, random, ledger genesis): imports nothing of src/
//   strategies  pure planning: a fleet and settings in, a plan out; imports domain/
//   engine      runs one plan: domain/, strategies/, and the provider and store contracts (never a provider)
//   store       the records; ledger, secrets: on the store's contract
//   providers   what owns machines (sim, local, fly), behind providers/contract.ts
//   analysis    metric sources of analysis (the local proxy, Prometheus), behind domain/analysis.ts;
//               the front ends open them and hand them to the engine
//   config      reads runway.toml; composes the providers' option schemas
//   release     release drafting and release steps
//   deploys     the one door every deploy goes through (policy, plan, lock, record, run)
//   triggers    what asks for deploys (GitHub webhooks, dispatch); go through deploys/
//   outbox, notifications, github   what a deploy tells the world, after the fact
//   server, cli the two front ends: they import anything above; nothing above imports them
//
// A cycle between folders is an error, without exceptions: where two folders needed each other, the
// lower one declares what it reads (providers/session.ts's SessionConfig, the outbox payloads beside
// their channels) and the higher one satisfies it.

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'domain-depends-on-nothing',
      comment: 'src/domain holds the words of the product; it imports no other folder of src/.',
      severity: 'error',
      from: { path: '^src/domain/' },
      to: { path: '^src/', pathNot: '^src/domain/' },
    },
    {
      name: 'strategies-on-domain',
      comment: 'A strategy is pure planning on domain/ types.',
      severity: 'error',
      from: { path: '^src/strategies/' },
      to: { path: '^src/', pathNot: '^src/(domain|strategies)/' },
    },
    {
      name: 'engine-on-contracts',
      comment:
        'The engine runs a plan against the provider and store contracts, never a provider, a store, the config or a front end.',
      severity: 'error',
      from: { path: '^src/engine/' },
      to: {
        path: '^src/',
        pathNot: [
          '^src/(domain|strategies|engine)/',
          '^src/providers/(contract|provider-gate)[.]ts$',
          '^src/store/contract[.]ts$',
        ],
      },
    },
    {
      name: 'store-on-domain',
      comment: 'A store keeps records of domain/ types; it knows nothing of what writes them.',
      severity: 'error',
      from: { path: '^src/store/' },
      to: { path: '^src/', pathNot: '^src/(domain|store)/' },
    },
    {
      name: 'ledger-and-secrets-on-the-store-contract',
      comment: 'The ledger and the secrets are kept through the store contract, never a store backend.',
      severity: 'error',
      from: { path: '^src/(ledger|secrets)/' },
      to: { path: '^src/store/', pathNot: '^src/store/(contract|outbox-contract)[.]ts$' },
    },
    {
      name: 'providers-below-the-engine',
      comment: 'A provider owns machines; it never imports the engine, the deploy door, triggers or a front end.',
      severity: 'error',
      from: { path: '^src/providers/' },
      to: { path: '^src/(engine|deploys|triggers|cli|server)/' },
    },
    {
      name: 'no-front-end-below',
      comment: 'Only the front ends (cli/, server/) import cli/ and server/; deploys and triggers above all.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(cli|server)/' },
      to: { path: '^src/(cli|server)/' },
    },
    {
      name: 'cli-and-server-apart',
      comment: 'The CLI and the control plane share code through the layers below, not through each other.',
      severity: 'error',
      from: { path: '^src/server/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'no-folder-cycles',
      comment: 'Folders depend one way: no cycle between folders.',
      severity: 'error',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/server/dashboard/assets/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
