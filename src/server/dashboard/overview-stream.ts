// The overview's server-sent events: the cards rendered for one viewer at most once a second, sent
// only when they changed (a keep-alive comment otherwise), ended when the hub closes its streams.

import type { LiveHub } from './live.js';

/** `render` gives the overview's payload as JSON text; a failed render is tried again next tick. */
export function overviewStream(hub: Pick<LiveHub, 'track'>, render: () => Promise<string>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let timer: NodeJS.Timeout | undefined;
  let last = '';
  let busy = false;
  let untrack = () => {};
  return new ReadableStream<Uint8Array>({
    start(controller) {
      untrack = hub.track(() => {
        clearInterval(timer);
        try {
          controller.close();
        } catch {
          // closed already
        }
      });
      const tick = async () => {
        if (busy) return;
        busy = true;
        try {
          const payload = await render();
          if (payload !== last) {
            last = payload;
            controller.enqueue(encoder.encode(`event: overview\ndata: ${payload}\n\n`));
          } else controller.enqueue(encoder.encode(`: keep-alive\n\n`));
        } catch {
          // try again next tick
        } finally {
          busy = false;
        }
      };
      void tick();
      timer = setInterval(() => void tick(), 1_000);
      timer.unref();
    },
    cancel() {
      clearInterval(timer);
      untrack();
    },
  });
}
