import { createHash, randomBytes } from 'node:crypto';

/**
 * API keys: 32 random bytes, base64url, behind a readable prefix so a leaked key can be recognised
 * (`ck_ws_` workspace, `ck_pr_` project). Only the SHA-256 is stored.
 */
export type ApiKeyKind = 'workspace' | 'project';

const prefixes: Record<ApiKeyKind, string> = { workspace: 'ck_ws_', project: 'ck_pr_' };

export function generateApiKey(kind: ApiKeyKind): string {
  return prefixes[kind] + randomBytes(32).toString('base64url');
}

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** The part of a key safe to show in lists: the kind prefix and 4 characters. */
export function displayPrefix(key: string): string {
  return key.slice(0, 10);
}
