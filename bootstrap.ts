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

const { main } = await import('./src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
