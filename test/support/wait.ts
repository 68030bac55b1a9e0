// Waiting for an event, never for a duration: tests poll for the thing they need (a file, a state,
// a count) and fail after a generous cap naming what never happened. A busy machine makes them
// slower, never red.

export async function until(condition: () => boolean | Promise<boolean>, what: string, capMs = 30_000): Promise<void> {
  const deadline = Date.now() + capMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`never happened within ${capMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
