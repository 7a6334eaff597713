#!/usr/bin/env node
// bramble's command-line entry: everything else lives in src/.
import { main } from './src/cli.ts';

process.exitCode = await main(process.argv.slice(2));
