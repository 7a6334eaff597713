// Where a command's lines go: standard output for results, standard error
// for progress and refusals, so --json and pipes read only the results.
export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}
