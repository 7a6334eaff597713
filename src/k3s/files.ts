// Root-owned files on a node, written only when they differ, so a re-run
// that finds them right leaves them (and their mtimes) alone.
import type { Session } from '../ssh/session.ts';

/**
 * Write a root-owned file only when its content differs; in a dry run only
 * compare. Returns the old content when it differed (`null` when it was absent).
 */
export async function ensureFile(s: Session, path: string, content: string, mode: number, step: string, o: { secret?: boolean; dryRun?: boolean; read?: Promise<string | undefined> } = {}): Promise<string | null | false> {
  const old = await (o.read ?? s.readFile(path, { sudo: true, step }));
  if (old === content) return false;
  if (!o.dryRun) await s.writeFile(path, content, { sudo: true, mode, step, secret: o.secret });
  return old ?? null;
}
