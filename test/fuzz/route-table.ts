import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Every HTTP route the api declares, read from the source (api/app.ts and api/routes/*.ts), so the
 * tenancy and fuzz suites notice a new route without anyone remembering to list it.
 */
export interface DeclaredRoute {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  file: string;
}

const declaration = /\b(?:router|app)\.(get|post|put|patch|delete)\(\s*['"`]([^'"`]+)['"`]/g;

export function declaredRoutes(root = process.cwd()): DeclaredRoute[] {
  const files = [
    join(root, 'api/app.ts'),
    ...readdirSync(join(root, 'api/routes'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => join(root, 'api/routes', f)),
  ];
  const routes: DeclaredRoute[] = [];
  for (const file of files) {
    for (const m of readFileSync(file, 'utf8').matchAll(declaration)) {
      routes.push({
        method: m[1]!.toUpperCase() as DeclaredRoute['method'],
        path: m[2]!,
        file: file.slice(root.length + 1),
      });
    }
  }
  return routes;
}

export const routeKey = (r: { method: string; path: string }) => `${r.method} ${r.path}`;
