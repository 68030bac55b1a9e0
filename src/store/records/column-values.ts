// Column values as the records read and write them, the same on every backend.

/** A time column as a number (PostgreSQL bigint comes back as a string). */
export function millis(value: number | string | bigint): number {
  return typeof value === 'number' ? value : Number(value);
}

export function millisOrNull(value: number | string | bigint | null): number | null {
  return value === null ? null : millis(value);
}

/** JSON text of a nullable document (plan, summary): null and undefined are SQL NULL. */
export function documentText(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return JSON.stringify(value) ?? null;
}

export function parseDocument(text: string | null): unknown {
  return text === null ? null : (JSON.parse(text) as unknown);
}
