#!/usr/bin/env node
// bramble's command-line entry: check the Node.js it runs on, then hand over
// to src/cli.ts. Everything here must parse and run on an old Node, so that
// it can say what is wrong instead of crashing on a newer API.
const NEEDED: [number, number] = [22, 13];

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < NEEDED[0] || (major === NEEDED[0] && minor < NEEDED[1])) {
  process.stderr.write(
    `bramble needs Node.js ${NEEDED.join('.')} or newer; this is Node.js ${process.versions.node} (${process.execPath}). ` +
      `Install a current one beside bramble: npm install -g --prefix ~/.local node@24, then put ~/.local/bin first on PATH (README: Installing).\n`,
  );
  process.exit(1);
}

// A run is short and nearly all of its code runs a few times: V8's optimising
// compilers (Maglev and TurboFan, on threads beside the run) cost a fifth of a
// `validate`'s CPU and returned none of it (bench/RESULTS.md, the eighth
// pass). The interpreter and Sparkplug's baseline code run everything.
const { setFlagsFromString } = await import('node:v8');
setFlagsFromString('--no-maglev');
setFlagsFromString('--no-turbofan');

// V8's compiled code for bramble's modules, kept between runs: loading them is
// a good part of a short command's start-up. Kept in the user's own cache
// folder, not a shared /tmp one another user could have made first.
// NODE_COMPILE_CACHE chooses another folder; NODE_DISABLE_COMPILE_CACHE=1 turns it off.
const { enableCompileCache } = await import('node:module');
const { homedir } = await import('node:os');
const cacheHome = process.env.XDG_CACHE_HOME || `${homedir()}/.cache`;
enableCompileCache?.(process.env.NODE_COMPILE_CACHE || `${cacheHome}/bramble/compile-cache`);

// The built bramble is a bundle (scripts/bundle.ts) with source maps beside
// it; they are not read on a run (that costs every run, -v ones too), so a
// stack trace names the bundle's chunks and bramble's functions. Node's
// --enable-source-maps maps it to bramble's modules.
const { main } = await import('./src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
