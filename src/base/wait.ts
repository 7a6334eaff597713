// The pause between two reads of something that is expected to change soon
// (a node turning Ready, an address answering). It starts short, since a
// condition often holds on the second read, and grows to a ceiling so that a
// long wait does not load a Pi's API server with reads.

/** The pause before read number `attempt` (1 for the second read): 200 ms, growing by half each time, at most `ceilingMs`. */
export function pauseMs(attempt: number, ceilingMs = 1000): number {
  return Math.min(ceilingMs, Math.round(200 * 1.5 ** Math.max(0, attempt - 1)));
}

export function pollPause(attempt: number, ceilingMs = 1000): Promise<void> {
  return new Promise((res) => setTimeout(res, pauseMs(attempt, ceilingMs)));
}
