import type { Io } from './steps.ts';
export async function runWizard(file: string, o: { interactive: boolean; io: Io }): Promise<number> {
  o.io.err(`not yet: ${file}`);
  return 1;
}
