/**
 * Vireo's Grafana dashboard (dashboards/vireo.json, shipped by charts/vireo) against
 * grafana-foundation-sdk's schema, strictly: tools/dashboard-check (built from the SDK's Go
 * module by tools/build-dashboard-check.sh) refuses any field the dashboard, panel-plugin or
 * data-query types do not know. That its queries return data from a running controller is tested
 * in vireo-install.test.ts.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPOSITORY } from '../support/helm.js';

const CHECK = join(
  process.env['VIREO_DASHBOARD_CHECK_BIN_DIR'] ?? join(REPOSITORY, '.cache', 'dashboard-check', 'bin'),
  'dashboard-check',
);
const DASHBOARD = join(REPOSITORY, 'dashboards', 'vireo.json');

async function check(...files: string[]): Promise<{ code: number; output: string }> {
  if (!existsSync(CHECK))
    throw new Error(
      `${CHECK} is missing: build it with "bash tools/build-dashboard-check.sh" (scripts/test-all.sh does)`,
    );
  try {
    const { stdout } = await promisify(execFile)(CHECK, files);
    return { code: 0, output: stdout };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string };
    return { code: failed.code ?? -1, output: failed.stdout ?? String(error) };
  }
}

describe('dashboards/vireo.json', () => {
  it('passes strict validation against the foundation SDK schema, and is the one the chart ships', async () => {
    expect(await check(DASHBOARD)).toEqual({ code: 0, output: `ok ${DASHBOARD}\n` });
    expect(readFileSync(join(REPOSITORY, 'charts', 'vireo', 'dashboards', 'vireo.json'), 'utf8')).toBe(
      readFileSync(DASHBOARD, 'utf8'),
    );
  });

  it.each([
    [
      'the dashboard',
      (board: any) => void (board.refreshh = '10s'),
      "Dashboard: unexpected field 'refreshh'",
    ],
    [
      "a panel's options",
      (board: any) => void (timeseries(board).options.legendd = {}),
      "options.Options: unexpected field 'legendd'",
    ],
    [
      "a panel's field config",
      (board: any) => void (timeseries(board).fieldConfig.defaults.custom.lineWidthh = 2),
      "GraphFieldConfig: unexpected field 'lineWidthh'",
    ],
    [
      'a Prometheus query',
      (board: any) => void (timeseries(board).targets[0].exprr = 'up'),
      "Dataquery: unexpected field 'exprr'",
    ],
  ])(
    'the validator refuses an unknown field in %s (so a pass means something)',
    async (_where, mutate, message) => {
      const board = JSON.parse(readFileSync(DASHBOARD, 'utf8'));
      mutate(board);
      const file = join(mkdtempSync(join(tmpdir(), 'vireo-dashboard-')), 'broken.json');
      writeFileSync(file, JSON.stringify(board));
      const result = await check(file);
      expect(result.code).toBe(1);
      expect(result.output).toContain(message);
    },
  );

  it('has the panels the dashboard promises: weight, checks against thresholds, status, decisions, controller health', () => {
    const board = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
      panels: { title: string; targets?: { expr: string }[] }[];
    };
    const exprs = (title: string): string[] =>
      (board.panels.find((panel) => panel.title === title)?.targets ?? []).map((target) => target.expr);
    expect(exprs('Traffic weight').join(' ')).toContain('flagger_canary_weight');
    expect(exprs('Checks against their thresholds')).toEqual([
      expect.stringContaining('flagger_canary_metric_analysis'),
      expect.stringContaining('vireo_canary_metric_threshold'),
    ]);
    expect(exprs('Status').join(' ')).toContain('flagger_canary_status');
    expect(exprs('Decisions').join(' ')).toMatch(
      /flagger_canary_successes_total.*|flagger_canary_failures_total/,
    );
    expect(exprs('Controllers reporting').join(' ')).toContain('flagger_info');
  });
});

function timeseries(board: any): any {
  return board.panels.find((panel: { type: string }) => panel.type === 'timeseries');
}
