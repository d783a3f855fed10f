import { type ChildProcess, spawn } from 'node:child_process';

/** `npm start` (scripts/start.ts) as a child process of a test, with everything it prints kept. */
export interface StartProcess {
  child: ChildProcess;
  /** stdout and stderr so far, interleaved as they came. */
  output(): string;
  /** Its exit code once it has exited (null when killed by a signal). */
  exited: Promise<number | null>;
  /** Resolves once `text` was printed; throws with the output when it exits first or `timeoutMs` passes. */
  waitFor(text: string, timeoutMs: number): Promise<void>;
}

export function spawnStart(argv: string[], env: NodeJS.ProcessEnv): StartProcess {
  const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += String(d)));
  child.stderr!.on('data', (d) => (output += String(d)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited,
    async waitFor(text, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!output.includes(text)) {
        if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline)
          throw new Error(`npm start did not print "${text}":\n${output}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
  };
}
