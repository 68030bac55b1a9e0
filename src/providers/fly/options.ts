// Settings of the `fly` provider, parsed from `[environments.X.fly]` (src/config/fly-schema.ts).
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface FlyOptions {}
