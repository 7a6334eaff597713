// Where a command's lines go: standard output for results, standard error
// for progress and refusals, so --json and pipes read only the results.
export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

/**
 * The -v log: each line stamped with the seconds since the process started,
 * so a slow step shows as a gap between two lines (bench/noop.ts reads them).
 */
export function verboseLog(io: Io): (line: string) => void {
  return (line) => io.err(`[${(performance.now() / 1000).toFixed(3).padStart(7)}] ${line}`);
}
