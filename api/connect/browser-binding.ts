import { createHash, randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Config } from '../../shared/config.ts';

/** The cookie that ties a connect page's OAuth flow to the browser that started it. */
export const BROWSER_COOKIE = 'ce_connect_browser';
const COOKIE_MAX_AGE_S = 1800;

const hash = (value: string) => createHash('sha256').update(value).digest();

/** The value of a cookie of the request, or undefined (no cookie-parser dependency for one name). */
function cookieOf(req: Request, name: string): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim() || undefined;
  }
  return undefined;
}

/** SHA-256 of the request's browser cookie, or null without one. Only hashes are stored. */
export function browserHashOf(req: Request): Buffer | null {
  const value = cookieOf(req, BROWSER_COOKIE);
  return value && /^[A-Za-z0-9_-]{43}$/.test(value) ? hash(value) : null;
}

/**
 * The browser's binding for a connect-page OAuth flow: its existing cookie, or a new random one set
 * on the response. HttpOnly (no script reads it) and SameSite=Lax: the provider's redirect back to
 * the callback is a cross-site top-level navigation, which Strict would strip. It authorizes no
 * write on its own (every connect-page write carries the session token in a header), so it is no
 * CSRF vector: it only proves, at the callback, "the same browser".
 */
export function bindBrowser(req: Request, res: Response, config: Pick<Config, 'PUBLIC_URL'>): Buffer {
  const existing = browserHashOf(req);
  if (existing) return existing;
  const value = randomBytes(32).toString('base64url');
  const secure = config.PUBLIC_URL?.startsWith('https:') ? '; Secure' : '';
  res.append(
    'Set-Cookie',
    `${BROWSER_COOKIE}=${value}; Path=/v1/; Max-Age=${COOKIE_MAX_AGE_S}; HttpOnly; SameSite=Lax${secure}`,
  );
  return hash(value);
}
