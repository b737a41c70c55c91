/**
 * dashboards/vireo.json is what tools/dashboards/vireo-dashboard.ts builds with
 * @grafana/grafana-foundation-sdk (regenerate with `npm run gen:dashboards`). Kept apart from
 * dashboards.test.ts because it imports the SDK, a dev dependency.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DASHBOARD_FILES, dashboardJson } from '../../tools/dashboards/generate.js';
import { REPOSITORY } from '../support/helm.js';

describe('npm run gen:dashboards', () => {
  it.each(DASHBOARD_FILES)('%s is up to date with the generator', (file) => {
    expect(readFileSync(join(REPOSITORY, file), 'utf8'), 'run npm run gen:dashboards').toBe(dashboardJson());
  });
});
