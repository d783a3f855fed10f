/**
 * vitest globalSetup: builds dist/ (the compiled api and worker that engine.ts starts in 'processes'
 * mode), starts Redis and Postgres once per test run (see services.ts for where they come from),
 * builds the migrated template database `ce_template`, and hands the URLs to test files through
 * vitest's provide/inject (ProvidedContext is declared in services.ts).
 */
import type { TestProject } from 'vitest/node';
import { build } from '../../scripts/build.mjs';
import { migrateToLatest } from '../../shared/db/migrate.ts';
import { prepareTemplateDatabase, startTestServices } from './services.ts';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const rebuild = async () => {
    const built = await build();
    console.log(`[build] dist/ ${built.written.length ? 'built' : 'up to date'} in ${built.ms} ms`);
  };
  await rebuild();
  project.onTestsRerun(rebuild); // watch mode: the processes of a rerun run the edited code
  const services = await startTestServices();
  try {
    await prepareTemplateDatabase(services.postgresAdminUrl, migrateToLatest);
  } catch (err) {
    await services.stop().catch(() => {});
    throw err;
  }
  project.provide('ceRedisUrl', services.redisUrl);
  project.provide('cePostgresAdminUrl', services.postgresAdminUrl);
  project.provide('ceServicesSource', `redis: ${services.redisSource}, postgres: ${services.postgresSource}`);
  console.log(
    `[test services] redis ${services.redisSource} (${redact(services.redisUrl)}), postgres ${services.postgresSource} ` +
      `(${redact(services.postgresAdminUrl)}), template ready in ${Date.now() - started} ms`,
  );
  return () => services.stop();
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}
