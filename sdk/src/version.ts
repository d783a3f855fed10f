// Written by scripts/build.mjs from package.json: do not edit.
/** This package's version (package.json), sent in the User-Agent. */
export const SDK_VERSION = '0.1.0';
