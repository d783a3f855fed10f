/**
 * Summaries of V8 CPU profiles (`node --cpu-prof`): where a process spent its (non-idle) CPU time,
 * by package/file ("self": the frame running; "inclusive": any frame of that package on the stack).
 */
import fs from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  busyMs: number;
  self: Array<[string, number]>;
  inclusivePackages: Array<[string, number]>;
  topFunctions: Array<[string, number]>;
}

function category(frame: ProfileNode['callFrame'], repoRoot: string): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native/builtin)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return 'node core';
  const local = url.replace(/^file:\/\//, '');
  if (local.startsWith(repoRoot)) return local.slice(repoRoot.length + 1);
  return url;
}

/**
 * `window`: only samples taken in it count, in CLOCK_MONOTONIC microseconds (V8's profile clock, and
 * `process.hrtime` of any process on the machine), e.g. the measured phase without start-up.
 */
export function summarizeProfiles(
  files: string[],
  repoRoot: string,
  window?: { fromUs: number; toUs: number },
): ProfileSummary {
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  const fns = new Map<string, number>();
  let busy = 0;
  for (const file of files) {
    const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
    const byId = new Map(prof.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const cats = new Map(prof.nodes.map((n) => [n.id, category(n.callFrame, repoRoot)]));
    const stackCats = new Map<number, Set<string>>();
    const stackOf = (id: number): Set<string> => {
      let s = stackCats.get(id);
      if (s) return s;
      const p = parent.get(id);
      s = new Set(p === undefined ? [] : stackOf(p));
      s.add(cats.get(id)!);
      stackCats.set(id, s);
      return s;
    };
    let at = prof.startTime;
    for (let i = 0; i < prof.samples.length; i++) {
      at += prof.timeDeltas[i] ?? 0;
      if (window && (at < window.fromUs || at > window.toUs)) continue;
      const id = prof.samples[i]!;
      const dt = (prof.timeDeltas[i + 1] ?? prof.timeDeltas[i] ?? 0) / 1000; // ms until the next sample
      const node = byId.get(id)!;
      const cat = cats.get(id)!;
      if (cat === '(idle)') continue;
      busy += dt;
      self.set(cat, (self.get(cat) ?? 0) + dt);
      const fn = `${node.callFrame.functionName || '(anonymous)'} ${cat}:${node.callFrame.lineNumber + 1}`;
      fns.set(fn, (fns.get(fn) ?? 0) + dt);
      for (const c of stackOf(id)) incl.set(c, (incl.get(c) ?? 0) + dt);
    }
  }
  const top = (m: Map<string, number>, n: number, filter: (k: string) => boolean = () => true) =>
    [...m.entries()]
      .filter(([k]) => filter(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, n);
  return {
    busyMs: busy,
    self: top(self, 14),
    inclusivePackages: top(incl, 20, (k) => !k.startsWith('(')),
    topFunctions: top(fns, 12),
  };
}

/**
 * Shares of busy samples. Sample intervals are wall time, so under CPU contention the absolute
 * numbers overstate CPU; read the shares against the CPU per call measured from /proc.
 */
export function formatProfile(role: string, s: ProfileSummary, calls: number): string[] {
  const pct = (ms: number) => `${((ms / s.busyMs) * 100).toFixed(1).padStart(5)}%`;
  return [
    `CPU profile of the ${role} (${calls} calls; shares of non-idle samples):`,
    '  self time by package / file:',
    ...s.self.map(([k, v]) => `    ${pct(v)}  ${k}`),
    '  inclusive time (frames of it anywhere on the stack; express middleware calls the next one, so it nests):',
    ...s.inclusivePackages.map(([k, v]) => `    ${pct(v)}  ${k}`),
    '  hottest functions (self):',
    ...s.topFunctions.map(([k, v]) => `    ${pct(v)}  ${k}`),
  ];
}
