import type { Config } from './config.ts';

/**
 * This server's absolute base URL, for links handed to others (OAuth callbacks, artifact URLs,
 * connections' `inboundUrl`): PUBLIC_URL, or this process's own loopback address in development.
 */
export const publicBaseUrl = (config: Pick<Config, 'PUBLIC_URL' | 'PORT'>): string =>
  (config.PUBLIC_URL ?? `http://127.0.0.1:${config.PORT}`).replace(/\/+$/, '');
