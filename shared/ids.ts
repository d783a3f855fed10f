import { monotonicFactory } from 'ulid';

/**
 * Ids are opaque to clients but time-ordered (ULID), so "newest first" lists can page on the id alone.
 * The prefix tells a human what kind of thing an id names, as Stripe's do.
 */
const nextUlid = monotonicFactory();

export const idPrefixes = {
  workspace: 'ws',
  project: 'prj',
  apiKey: 'key',
  connection: 'conn',
  invocation: 'inv',
  artifact: 'art',
  webhook: 'whk',
  delivery: 'whd',
  event: 'evt',
  oauthState: 'oas',
} as const;

export type IdKind = keyof typeof idPrefixes;

export function newId(kind: IdKind): string {
  return `${idPrefixes[kind]}_${nextUlid().toLowerCase()}`;
}

/** Shape check used before an id reaches SQL: anything else is simply "not found". */
const idPattern = /^[a-z]{2,4}_[0-9a-z]{26}$/;
export function isWellFormedId(kind: IdKind, value: string): boolean {
  return idPattern.test(value) && value.startsWith(`${idPrefixes[kind]}_`);
}
