/** Types of build.mjs (plain JavaScript, run by scripts/build.mjs without tsx). */
export declare const PAGES: readonly string[];
export declare function pageScriptSizes(outDir: string): Record<string, number>;
export declare function buildWeb(
  root: string,
  options?: { quiet?: boolean },
): Promise<{ built: boolean; prebuilt?: boolean; sizes?: Record<string, number> }>;
