/** Types of build.mjs (plain JavaScript, so that it runs without tsx). */
export declare const root: string;
export declare const distDir: string;
export declare const ENTRIES: readonly string[];
export declare function distFile(entry: string): string;
export declare function build(): Promise<{
  ms: number;
  written: string[];
  prebuilt: boolean;
  web: { built: boolean; prebuilt?: boolean; sizes?: Record<string, number> };
}>;
export declare function nodeCommand(entry: string): { nodeArgs: string[]; file: string };
