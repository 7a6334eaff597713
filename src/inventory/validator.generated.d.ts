// What scripts/gen-validator.ts writes beside the built load.js at build
// time; it is not in the sources. load.ts checks the export before use.
declare const validate: unknown;
export default validate;
