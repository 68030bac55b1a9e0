// A test's own reads of a Machines API (`runway sim serve`) over real HTTP. Like any Fly client it
// waits out a 429: the deploy under test may just have spent the app's budget for the call.

export async function flyGet<T>(url: string, path: string, token: string): Promise<{ status: number; body: T }> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(url + path, { headers: { authorization: `Bearer ${token}` } });
    if (res.status !== 429 || attempt >= 100) return { status: res.status, body: (await res.json()) as T };
    await res.body?.cancel();
    const after = Number(res.headers.get('retry-after'));
    await new Promise((resolve) => setTimeout(resolve, Number.isFinite(after) && after > 0 ? Math.min(after * 1000, 1000) : 50));
  }
}
