// What scripts/gen-validator.ts writes beside the built templates.js at
// build time: the templates precompiled, each with the hash of its text.
import type { Precompiled } from './templates.ts';
declare const templates: Precompiled;
export default templates;
