/**
 * `npm run gen:dashboards`: writes Vireo's Grafana dashboard (tools/dashboards/vireo-dashboard.ts)
 * to dashboards/vireo.json and to charts/vireo/dashboards/vireo.json, which the chart ships in a
 * ConfigMap (Helm cannot read files outside the chart). test/helm/dashboards.test.ts checks both
 * are what this writes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { vireoDashboard } from './vireo-dashboard.js';

export const DASHBOARD_FILES = ['dashboards/vireo.json', 'charts/vireo/dashboards/vireo.json'];

export function dashboardJson(): string {
  return `${JSON.stringify(vireoDashboard(), null, 2)}\n`;
}

const repository = join(import.meta.dirname, '..', '..');
if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  const json = dashboardJson();
  for (const file of DASHBOARD_FILES) {
    writeFileSync(join(repository, file), json);
    console.log(`wrote ${file}`);
  }
}
