// The dashboard tests' app: 48 machines per environment on sim fleets with a scaled clock of `speed`.

export const DASHBOARD_CONFIG = (speed: number) => `
[app]
name = "shop"
[app.processes]
web = { count = 40 }
worker = { count = 8 }

[environments.production]
provider = "sim"
trigger = "release"
initiation = "manual"
vars = { DEPLOY_STRATEGY = "rolling" }
[environments.production.deploy]
max_unavailable = 0.2

[environments.staging]
provider = "sim"
trigger = "push:main"
initiation = "automatic"
vars = { DEPLOY_STRATEGY = "immediate" }

[environments.qa]
provider = "sim"
trigger = "manual"
initiation = "manual"
vars = { DEPLOY_STRATEGY = "bluegreen" }

[sim]
clock = "scaled"
speed = ${speed}
initial_release = "v1"
`;
