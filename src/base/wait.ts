// Reads over time: reads started ahead of the code that needs them, and the
// pause between two reads of something expected to change soon (a node
// turning Ready, an address answering). The pause starts short, since a
// condition often holds on the second read, and grows to a ceiling so that a
// long wait does not load a Pi's API server with reads. And a pool, for
// work run side by side but at most so many at once.

/** The pause before read number `attempt` (1 for the second read): 200 ms, growing by half each time, at most `ceilingMs`. */
export function pauseMs(attempt: number, ceilingMs = 1000): number {
  return Math.min(ceilingMs, Math.round(200 * 1.5 ** Math.max(0, attempt - 1)));
}

/**
 * A read started before the code that needs it: its failure is reported
 * where it is awaited, not as an unhandled rejection while other reads run.
 */
export function ahead<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

export function pollPause(attempt: number, ceilingMs = 1000): Promise<void> {
  return new Promise((res) => setTimeout(res, pauseMs(attempt, ceilingMs)));
}

/** `fn` over `items`, at most `limit` at once; the results in the items' order. */
export async function pool<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}
