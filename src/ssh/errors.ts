// The one error of the SSH layer: what failed, on which node, in which step.
import { BrambleError } from '../base/errors.ts';

/** Something on a node, in a step: the message reads "node: step: detail". */
export class SshError extends BrambleError {
  declare readonly node: string;
  declare readonly step: string;
  constructor(node: string, step: string, detail: string, cause?: unknown) {
    super(detail, { node, step, cause });
  }
}
