// What scripts/gen-validator.ts writes beside the built plan-model.js at build
// time; it is not in the sources. compiled.ts checks the export before use.
declare const validate: unknown;
export default validate;
