// Build step: the command-line entry and everything it imports, bundled into
// dist/bin/ (bramble.js and a chunks/ folder) after tsc and
// scripts/gen-validator.ts have run. A run used to resolve, read and link
// 230 to 430 modules (bramble's own and its packages') before it did any
// work: a fifth of a short command's CPU, measured in bench/RESULTS.md. The
// modules a command loads only when it needs them (age, Octokit, the wizard)
// stay in chunks of their own, loaded the same way.
// Usage: node dist/scripts/bundle.js
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from '../src/base/paths.ts';

/**
 * Packages left to Node's own loader: ssh2 and re2-wasm load files that sit
 * beside their modules (through __dirname, which an ES module has not).
 */
const EXTERNAL = ['ssh2', 're2-wasm'];

const root = packageRoot();
const out = join(root, 'dist', 'bin');
rmSync(out, { recursive: true, force: true });

/** The build stops: no bundle is left that a later run could take for a good one. */
function refuse(why: string): never {
  rmSync(out, { recursive: true, force: true });
  console.error(`bundle: ${why}`);
  process.exit(1);
}

// esbuild has printed what it could not build; its stack would add nothing.
const result = await build({
  absWorkingDir: root,
  entryPoints: { bramble: join(root, 'dist', 'bootstrap.js') },
  outdir: out,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  external: EXTERNAL,
  // uri-js and ajv-formats-draft2019 depend on the punycode package but require
  // plain 'punycode', which Node answers with its own deprecated copy (and,
  // outside node_modules, a warning on every run): the bundle takes the package
  // they name as their dependency.
  alias: { punycode: 'punycode/punycode.js' },
  // CommonJS packages inside an ES module bundle still call require() for Node's own modules.
  banner: { js: "import { createRequire as bundleRequire } from 'node:module'; const require = bundleRequire(import.meta.url);" },
  // Maps for stack traces, read only under node --enable-source-maps (bootstrap.ts says why).
  sourcemap: 'linked',
  sourcesContent: false,
  logLevel: 'warning',
  metafile: true,
}).catch(() => process.exit(1));
// A relative import esbuild could not follow is left for run time, where it
// would resolve beside a chunk and find nothing (the generated validators,
// if gen-validator has not run): the build stops instead.
const outputs = Object.entries(result.metafile.outputs);
const unresolved = outputs.flatMap(([, o]) => o.imports.filter((i) => i.external && /^\.\.?\//.test(i.path)).map((i) => i.path));
if (unresolved.length > 0) refuse(`${[...new Set(unresolved)].join(', ')} not found beside the built modules that import them; run the whole build (npm run build)`);
// A dynamic import() of a CommonJS package gives, in the bundle, only a
// default export, where Node gives its named exports too: code that takes a
// name from it would find undefined at run time, so the build stops.
// (esbuild wraps such a module as `export default require_x()`.)
const commonJsImported = outputs
  .filter(([f, o]) => o.entryPoint?.includes('node_modules/') && f.endsWith('.js') && /^export default require_\w+\(\);$/m.test(readFileSync(join(root, f), 'utf8')))
  .map(([, o]) => o.entryPoint!);
if (commonJsImported.length > 0) refuse(`import() of CommonJS ${commonJsImported.join(', ')}: import it statically instead`);
// Everything else is in the bundle, so bramble installs with its runtime
// dependencies only (package.json's dependencies: ssh2 and re2-wasm); the
// packages the bundle carries are devDependencies. A package left to Node's
// loader that an install would not bring stops the build.
const runtime = Object.keys((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {});
const leftToNode = new Set(
  outputs.flatMap(([, o]) => o.imports.filter((i) => i.external && !/^\.\.?\//.test(i.path) && !isBuiltin(i.path)).map((i) => i.path.split('/').slice(0, i.path.startsWith('@') ? 2 : 1).join('/'))),
);
const notInstalled = [...leftToNode].filter((p) => !runtime.includes(p));
if (notInstalled.length > 0) refuse(`${notInstalled.join(', ')} left to Node's loader but not in package.json's dependencies: an installed bramble would not find it`);
const files = outputs.map(([f]) => f).filter((f) => f.endsWith('.js'));
console.log(`bundled ${Object.keys(result.metafile.inputs).length} modules into ${files.length} files under ${out}`);
