// Preloaded into a bramble run by the fault tests (node --import): the Nth
// file write stops half way (half its content written to the temporary file),
// says so in a marker file and waits, so that the signal the test sends lands
// inside a write for certain. HOLD_WRITE=N:MARKER. Not part of bramble.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';

const [nth, marker] = (process.env.HOLD_WRITE ?? '').split(':');
let count = 0;
const original = fsp.writeFile;
fsp.writeFile = async function holdingWriteFile(file, data, options) {
  count++;
  if (count !== Number(nth)) return original.call(this, file, data, options);
  const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
  await original.call(this, file, text.slice(0, Math.floor(text.length / 2)), options);
  fs.writeFileSync(marker, String(file));
  await new Promise((resolve) => setTimeout(resolve, 60_000));
  throw new Error('hold-write: the test did not interrupt the held write');
};
syncBuiltinESMExports();
