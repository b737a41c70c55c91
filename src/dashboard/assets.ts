/**
 * The dashboard's static files: one HTML shell (no data in it), one stylesheet and one ES module
 * compiled from src/dashboard/assets/app.ts by the build (dist/dashboard/assets/app.js). Nothing
 * comes from a CDN: the page works offline.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DASHBOARD_CSS } from './assets/style.js';

export interface Asset {
  readonly type: string;
  readonly body: Buffer;
}

const SHELL = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Vireo dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/app.css">
<script type="module" src="/assets/app.js"></script>
</head>
<body>
<header><a class="brand" href="/">Vireo</a><nav><a href="/">Canaries</a><a href="/health">Health</a></nav><span class="live" id="live"></span><span class="who" id="who"></span></header>
<main id="main"><p class="muted">Loading…</p><noscript>The dashboard needs JavaScript.</noscript></main>
</body>
</html>
`;

/** Where the compiled module is: beside this file once built, or in dist/ when run from src/ (tests). */
function findScript(): string | undefined {
  for (const candidate of [
    new URL('./assets/app.js', import.meta.url),
    new URL('../../dist/dashboard/assets/app.js', import.meta.url),
  ]) {
    const path = fileURLToPath(candidate);
    if (existsSync(path)) return path;
  }
  return undefined;
}

export class DashboardAssets {
  private readonly files: Map<string, Asset>;

  constructor(script: string | undefined = findScript()) {
    const html: Asset = { type: 'text/html; charset=utf-8', body: Buffer.from(SHELL) };
    this.files = new Map([
      ['/assets/app.css', { type: 'text/css; charset=utf-8', body: Buffer.from(DASHBOARD_CSS) }],
      [
        '/assets/app.js',
        {
          type: 'text/javascript; charset=utf-8',
          body:
            script === undefined
              ? Buffer.from(
                  'document.getElementById("main").textContent = "The dashboard\'s script is not built: run npm run build.";',
                )
              : readFileSync(script),
        },
      ],
      ['/', html],
      ['/health', html],
    ]);
    this.html = html;
  }

  private readonly html: Asset;

  /** The asset for a path; every page path of the app gets the same shell. */
  lookup(path: string): Asset | undefined {
    const file = this.files.get(path);
    if (file !== undefined) return file;
    if (/^\/canaries\/[a-z0-9][-a-z0-9.]*\/[a-z0-9][-a-z0-9.]*$/.test(path)) return this.html;
    return undefined;
  }
}
