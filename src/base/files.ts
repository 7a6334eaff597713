// Reading and writing files the way every part of bramble does: a missing
// file is undefined rather than an error, and a write never leaves half a file.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** The suffix of a write in progress; a folder's cleaner removes what an interrupted write left. */
export const TMP_SUFFIX = '.bramble-tmp';

/** A file's text, or undefined when it does not exist. */
export async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Write to a temporary name in the same folder, then rename: never half a file. */
export async function writeAtomic(file: string, content: string, mode = 0o644): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = join(dirname(file), `.${randomBytes(6).toString('hex')}${TMP_SUFFIX}`);
  try {
    await writeFile(tmp, content, { mode, flag: 'wx' });
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    // A failed write on an open file names no path: name the file it was for.
    const err = e as NodeJS.ErrnoException;
    if (err.code && err.path === undefined) err.path = file;
    throw e;
  }
}

/** Every YAML file under `dir`, links neither followed nor read. */
export async function yamlFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch {
    return [];
  }
  return entries.filter((e) => e.isFile() && /\.ya?ml$/.test(e.name)).map((e) => join(e.parentPath, e.name));
}
