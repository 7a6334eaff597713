// One error type for everything bramble explains to the owner: where it
// happened (node, step), what happened (detail), the exit code, and the
// error underneath. The message reads "node: step: detail"; code that needs
// the parts reads the fields, never the message.

export interface Where {
  node?: string;
  step?: string;
  /** The process's exit code when this ends the run (default 1). */
  exitCode?: number;
  /** More lines to print under the message (a list of conflicts, a plan). */
  lines?: string[];
  cause?: unknown;
}

export class BrambleError extends Error {
  readonly node?: string;
  readonly step?: string;
  /** The message without the node and step in front. */
  readonly detail: string;
  readonly exitCode: number;
  readonly lines: string[];

  constructor(detail: string, where: Where = {}) {
    super([where.node, where.step, detail].filter((p) => p !== undefined && p !== '').join(': '), where.cause === undefined ? undefined : { cause: where.cause });
    this.name = new.target.name;
    this.node = where.node;
    this.step = where.step;
    this.detail = detail;
    this.exitCode = where.exitCode ?? 1;
    this.lines = where.lines ?? [];
  }
}

/** "step: detail" of a BrambleError (the node left out, for lines already under it); the message of anything else. */
export function withoutNode(e: unknown): string {
  return e instanceof BrambleError ? [e.step, e.detail].filter(Boolean).join(': ') : e instanceof Error ? e.message : String(e);
}

/** The detail of a BrambleError; the message of anything else. */
export function detailOf(e: unknown): string {
  return e instanceof BrambleError ? e.detail : e instanceof Error ? e.message : String(e);
}

/**
 * How an error bramble did not expect prints, for every command: one line
 * naming it a bug with its kind and message; the stack only with -v.
 */
export function unexpectedLines(e: unknown, verbose: boolean): string[] {
  const err = e instanceof Error ? e : new Error(String(e));
  const line = `bramble: unexpected ${err.name}: ${err.message.split('\n')[0]} (a bug in bramble; ${verbose ? 'the stack follows' : 'run again with -v to see where it happened'})`;
  return verbose && err.stack ? [line, err.stack] : [line];
}
