/**
 * Child processes of the benchmark: the api, the workers, the upstream fake and the raw-BullMQ
 * worker, each in its own process group, registered with the local-services guardian so none
 * outlives the bench even if the bench is killed. Also /proc readers: RSS and CPU time.
 *
 * The api and workers run as production runs them: the compiled dist/ entry with the node flags of
 * `npm run api|worker` (scripts/build.mjs; built once when this module loads, so the bench measures
 * the current code). The bench helpers (upstream fake, raw BullMQ worker) run through
 * `node --import tsx`. BENCH_RUNTIME=tsx runs the api and workers through `node --import tsx` too
 * (how they ran before the build, to compare); BENCH_TSX_CLI=1 starts every process through tsx's
 * cli wrapper instead. BENCH_NODE_FLAGS="<flags>" replaces the npm script's node flags of the
 * compiled api and workers (to try V8 flags; an empty value runs them without any).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { build, ENTRIES, nodeCommand } from '../../scripts/build.mjs';
import { guardChild } from '../../scripts/lib/local-services.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const tsxCli = createRequire(import.meta.url).resolve('tsx/cli');
const viaTsxCli = process.env.BENCH_TSX_CLI === '1';
const compiled = process.env.BENCH_RUNTIME !== 'tsx' && !viaTsxCli;
if (compiled) {
  const built = await build();
  process.stderr.write(`[bench] dist/ ${built.written.length ? 'built' : 'up to date'} in ${built.ms} ms\n`);
}

export interface NodeProc {
  name: string;
  child: ChildProcess;
  /** pid of the process we spawned (with BENCH_TSX_CLI=1, tsx's cli wrapper). */
  pid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isRunning(): boolean;
  /** The node process that runs the entry (with BENCH_TSX_CLI=1, the child tsx's cli spawns). */
  realPid(): number | undefined;
  /** Last lines it wrote (stdout and stderr). */
  tail(): string;
  /** Resolves with the first output line matching `re`. */
  waitForLine(re: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  onLine(fn: (line: string) => void): void;
  stop(timeoutMs?: number): Promise<void>;
}

const all = new Set<NodeProc>();

/** Kills every process group we started, at once (SIGKILL). Used on error paths and at exit. */
export function killAllNow(): void {
  for (const p of all) {
    try {
      process.kill(-p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}
process.once('exit', killAllNow);

/**
 * Starts `entry` (a .ts path from the repository root). A production entry (scripts/build.mjs
 * ENTRIES: api, worker) runs compiled: `node [nodeArgs] <flags of its npm script> dist/<entry>.js`;
 * anything else, or with BENCH_RUNTIME=tsx, `node [nodeArgs] --import tsx <entry>`. BENCH_TSX_CLI=1
 * starts `node <tsx cli> <entry>` instead (tsx's cli runs the entry in a child process: RSS and
 * profiles are then the child's). `nodeArgs` come first, e.g. --cpu-prof (refused in NODE_OPTIONS).
 */
export function spawnTsx(name: string, entry: string, env: NodeJS.ProcessEnv, nodeArgs: string[] = []): NodeProc {
  const viaCli = viaTsxCli && nodeArgs.length === 0;
  let args: string[];
  if (viaCli) {
    args = [tsxCli, entry];
  } else if (compiled && ENTRIES.includes(entry)) {
    const command = nodeCommand(entry);
    const flags = process.env.BENCH_NODE_FLAGS?.split(/\s+/).filter(Boolean) ?? command.nodeArgs;
    args = [...nodeArgs, ...flags, command.file];
  } else {
    args = [...nodeArgs, '--import', 'tsx', entry];
  }
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  guardChild(child, 'SIGTERM', 0);
  const lines: string[] = [];
  const listeners: Array<(line: string) => void> = [];
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      resolve({ code, signal });
    });
    child.once('error', () => {
      running = false;
      resolve({ code: null, signal: null });
    });
  });
  for (const stream of [child.stdout!, child.stderr!]) {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => {
      buf += d;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        if (lines.length > 200) lines.splice(0, lines.length - 200);
        for (const l of listeners) l(line);
      }
    });
  }
  let real: number | undefined;
  const proc: NodeProc = {
    name,
    child,
    pid: child.pid!,
    exited,
    isRunning: () => running,
    realPid() {
      if (!viaCli) return child.pid;
      if (real !== undefined && fs.existsSync(`/proc/${real}`)) return real;
      real = deepestNodeDescendant(child.pid!);
      return real;
    },
    tail: () => lines.slice(-40).join('\n'),
    onLine: (fn) => void listeners.push(fn),
    waitForLine(re, timeoutMs) {
      return new Promise((resolve, reject) => {
        for (const l of lines) {
          const m = re.exec(l);
          if (m) return resolve(m);
        }
        const timer = setTimeout(
          () => reject(new Error(`${name}: no line matching ${re} within ${timeoutMs} ms:\n${proc.tail()}`)),
          timeoutMs,
        );
        listeners.push((l) => {
          const m = re.exec(l);
          if (m) {
            clearTimeout(timer);
            resolve(m);
          }
        });
        void exited.then(({ code, signal }) => {
          clearTimeout(timer);
          reject(new Error(`${name} exited (code ${code}, signal ${signal}):\n${proc.tail()}`));
        });
      });
    },
    async stop(timeoutMs = 15_000) {
      if (running) {
        try {
          child.kill('SIGTERM'); // the process drains and exits (tsx's cli relays it to its child)
        } catch {
          // gone
        }
        const outcome = await Promise.race([exited, sleep(timeoutMs, 'timeout' as const)]);
        if (outcome === 'timeout') {
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            // gone
          }
          await exited;
        }
      }
      // Whatever is left of its group (tsx cli's child if the wrapper went first).
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // nothing left
      }
      all.delete(proc);
    },
  };
  all.add(proc);
  return proc;
}

// ---------------------------------------------------------------------------------------------
// /proc

function readStat(pid: number): { ppid: number; comm: string; ticks: number; childTicks: number } | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = s.lastIndexOf(')');
    const comm = s.slice(s.indexOf('(') + 1, close);
    const f = s.slice(close + 2).split(' ');
    // fields after comm: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
    return {
      ppid: Number(f[1]),
      comm,
      ticks: Number(f[11]) + Number(f[12]),
      childTicks: Number(f[13]) + Number(f[14]),
    };
  } catch {
    return undefined;
  }
}

function childrenOf(): Map<number, number[]> {
  const map = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const st = readStat(Number(entry));
    if (!st) continue;
    const list = map.get(st.ppid) ?? [];
    list.push(Number(entry));
    map.set(st.ppid, list);
  }
  return map;
}

/** pid and all its descendants. */
export function processTree(pid: number): number[] {
  const kids = childrenOf();
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of kids.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

function deepestNodeDescendant(pid: number): number | undefined {
  const kids = childrenOf();
  let current = pid;
  for (;;) {
    const next = (kids.get(current) ?? []).find((c) => readStat(c)?.comm.startsWith('node'));
    if (next === undefined) return current === pid ? undefined : current;
    current = next;
  }
}

/** Resident set size in KiB (VmRSS), or 0 when the process is gone. */
export function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

const TICK_MS = 10; // CLK_TCK is 100 on Linux

/** CPU time (user + system) consumed so far by these processes, in ms. */
export function cpuMs(pids: number[]): number {
  let ticks = 0;
  // A child that exited and was reaped moves its CPU time into its parent's cutime/cstime. Counting
  // both keeps a tree's total from dropping when, say, a Postgres backend exits mid-measurement.
  for (const p of pids) {
    const stat = readStat(p);
    ticks += stat ? stat.ticks + stat.childTicks : 0;
  }
  return ticks * TICK_MS;
}

/** Samples the RSS of named processes every `everyMs`; `peaks()` gives the maximum seen per name. */
export class RssSampler {
  private readonly peak = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly targets: () => Array<{ name: string; pid: number | undefined }>,
    private readonly everyMs = 200,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
    return this;
  }

  private sample(): void {
    for (const t of this.targets()) {
      if (t.pid === undefined) continue;
      const kb = rssKb(t.pid);
      if (kb > (this.peak.get(t.name) ?? 0)) this.peak.set(t.name, kb);
    }
  }

  stop(): Map<string, number> {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }
}

/** Busy and stolen CPU time of the whole machine so far (first line of /proc/stat), in ms. */
export function machineCpuMs(): { busy: number; steal: number } {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
  return { busy: (user + nice + system + irq + softirq) * TICK_MS, steal: steal * TICK_MS };
}

/**
 * How much CPU processes other than ours (this process and everything under it) used while `fn`
 * ran, in cores: the bench shares the machine, and its numbers mean little when this is high.
 */
export async function measureForeignLoad<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; foreignCores: number; stealCores: number; wallMs: number }> {
  // Ours: every live process under this one, plus what exited children used (cpuMs counts
  // cutime/cstime), so a worker stopped mid-section still counts as ours.
  const ours = () => cpuMs(processTree(process.pid));
  const m0 = machineCpuMs();
  const o0 = ours();
  const t0 = Date.now();
  const result = await fn();
  const wallMs = Math.max(1, Date.now() - t0);
  const m1 = machineCpuMs();
  const o1 = ours();
  return {
    result,
    foreignCores: Math.max(0, m1.busy - m0.busy - (o1 - o0)) / wallMs,
    stealCores: (m1.steal - m0.steal) / wallMs,
    wallMs,
  };
}

/** read- and write-class system calls made so far by these processes (/proc/<pid>/io syscr + syscw). */
export function syscalls(pids: number[]): number {
  let n = 0;
  for (const p of pids) {
    try {
      const io = fs.readFileSync(`/proc/${p}/io`, 'utf8');
      n += Number(/syscr:\s+(\d+)/.exec(io)?.[1] ?? 0) + Number(/syscw:\s+(\d+)/.exec(io)?.[1] ?? 0);
    } catch {
      // gone, or not ours to read
    }
  }
  return n;
}
