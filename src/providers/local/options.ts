// Settings of the `local` provider, parsed from `[environments.X.local]` (src/config/local-schema.ts).
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface LocalOptions {}
