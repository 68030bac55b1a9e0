// Paths of the Machines API operations runway uses (below Fly's base URL).

export function appPath(app: string): string {
  return `/v1/apps/${encodeURIComponent(app)}/machines`;
}

export function machinePath(app: string, id: string): string {
  return `${appPath(app)}/${encodeURIComponent(id)}`;
}
