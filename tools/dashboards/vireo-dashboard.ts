/**
 * Vireo's Grafana dashboard, built with grafana-foundation-sdk: per canary, the traffic weight over
 * time, each check's value against its threshold, the status and the decisions; and the
 * controller's health. Every query reads the controller's own /metrics (Flagger's flagger_* series
 * and Vireo's vireo_* ones), so the dashboard works with any mesh. `npm run gen:dashboards`
 * writes it to dashboards/ and charts/vireo/dashboards/; see docs/dashboards.md.
 */
import {
  DashboardBuilder,
  DatasourceVariableBuilder,
  MappingType,
  QueryVariableBuilder,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
  type Dashboard,
  type DataSourceRef,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { GraphDrawStyle, LineStyleBuilder } from '@grafana/grafana-foundation-sdk/common';

export const VIREO_DASHBOARD_UID = 'vireo-canaries';

const datasource: DataSourceRef = { type: 'prometheus', uid: '${datasource}' };
/** The canaries chosen in the variables (flagger_* series label a canary by its target's name). */
const selected = 'namespace=~"$namespace", name=~"$canary"';

const query = (expr: string, legend: string, refId: string): DataqueryBuilder =>
  new DataqueryBuilder().datasource(datasource).expr(expr).legendFormat(legend).refId(refId);

const timeseries = (title: string, description: string): TimeseriesBuilder =>
  new TimeseriesBuilder().title(title).description(description).datasource(datasource).height(8).span(12);

/** Every PromQL expression of a built dashboard, for the tests that run them. */
export function dashboardQueries(dashboard: Dashboard): string[] {
  const panels = (dashboard.panels ?? []).flatMap((panel) =>
    'panels' in panel && Array.isArray(panel.panels) ? [panel, ...panel.panels] : [panel],
  );
  return panels.flatMap((panel) =>
    ((('targets' in panel ? panel.targets : undefined) ?? []) as { expr?: string }[]).flatMap((target) =>
      target.expr === undefined ? [] : [target.expr],
    ),
  );
}

export function vireoDashboard(): Dashboard {
  const canaryRow = new RowBuilder('Canaries');
  const healthRow = new RowBuilder('Controller health');
  return new DashboardBuilder('Vireo canaries')
    .uid(VIREO_DASHBOARD_UID)
    .description(
      "Vireo's canaries from the controller's own metrics: traffic weight, checks against their thresholds, status, decisions, and the controller's health.",
    )
    .tags(['vireo', 'flagger', 'canary'])
    .editable()
    .refresh('30s')
    .time({ from: 'now-3h', to: 'now' })
    .timezone('browser')
    .withVariable(new DatasourceVariableBuilder('datasource').label('Prometheus').type('prometheus'))
    .withVariable(
      new QueryVariableBuilder('namespace')
        .label('Namespace')
        .datasource(datasource)
        .query('label_values(flagger_canary_status, namespace)')
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .allValue('.*'),
    )
    .withVariable(
      new QueryVariableBuilder('canary')
        .label('Canary')
        .description('The target name, as the flagger_* series label it')
        .datasource(datasource)
        .query('label_values(flagger_canary_status{namespace=~"$namespace"}, name)')
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .allValue('.*'),
    )
    .withRow(canaryRow)
    .withPanel(
      new StatBuilder()
        .title('Status')
        .description('Last analysis result: Progressing, Failed, or idle (initialized or succeeded).')
        .datasource(datasource)
        .height(8)
        .span(6)
        .withTarget(query(`flagger_canary_status{${selected}}`, '{{namespace}}/{{name}}', 'A').instant())
        .mappings([
          {
            type: MappingType.ValueToText,
            options: {
              '0': { text: 'Progressing', color: 'blue', index: 0 },
              '1': { text: 'Idle / Succeeded', color: 'green', index: 1 },
              '2': { text: 'Failed', color: 'red', index: 2 },
            },
          },
        ]),
    )
    .withPanel(
      timeseries(
        'Traffic weight',
        'Percentage of traffic on the canary and on the primary, per analysis step.',
      )
        .span(18)
        .unit('percent')
        .min(0)
        .max(100)
        .withTarget(
          query(
            `flagger_canary_weight{namespace=~"$namespace", workload=~"$canary"}`,
            '{{namespace}}/{{workload}} canary',
            'A',
          ),
        )
        .withTarget(
          query(
            `flagger_canary_weight{namespace=~"$namespace", workload=~"($canary)-primary"}`,
            '{{namespace}}/{{workload}}',
            'B',
          ),
        ),
    )
    .withPanel(
      timeseries(
        'Checks against their thresholds',
        "Each check's last value (solid) and the bounds it is judged against (dashed): a value past a bound is a failed check. request-duration is in seconds.",
      )
        .span(24)
        .withTarget(query(`flagger_canary_metric_analysis{${selected}}`, '{{name}} {{metric}}', 'A'))
        .withTarget(query(`vireo_canary_metric_threshold{${selected}}`, '{{name}} {{metric}} {{bound}}', 'B'))
        .overrideByQuery('B', [
          { id: 'custom.lineStyle', value: new LineStyleBuilder().fill('dash').dash([10, 10]).build() },
          { id: 'custom.lineWidth', value: 2 },
        ]),
    )
    .withPanel(
      timeseries('Decisions', 'Promotions (completed or with skipAnalysis) and rollbacks per canary.')
        .drawStyle(GraphDrawStyle.Bars)
        .withTarget(
          query(
            `sum by (namespace, name, analysis_status) (increase(flagger_canary_successes_total{${selected}}[$__rate_interval]))`,
            'promoted {{namespace}}/{{name}} ({{analysis_status}})',
            'A',
          ),
        )
        .withTarget(
          query(
            `sum by (namespace, name) (increase(flagger_canary_failures_total{${selected}}[$__rate_interval]))`,
            'rolled back {{namespace}}/{{name}}',
            'B',
          ),
        ),
    )
    .withPanel(
      timeseries('Analysis step duration', 'Time one analysis step takes (99th percentile).')
        .unit('s')
        .withTarget(
          query(
            `histogram_quantile(0.99, sum by (le, namespace, name) (rate(flagger_canary_duration_seconds_bucket{${selected}}[$__rate_interval])))`,
            '{{namespace}}/{{name}}',
            'A',
          ),
        ),
    )
    .withRow(healthRow)
    .withPanel(
      new StatBuilder()
        .title('Controllers reporting')
        .description('Controllers whose /metrics is scraped, with their version and router.')
        .datasource(datasource)
        .height(6)
        .span(6)
        .withTarget(
          query(
            'count by (version, mesh_provider) (flagger_info)',
            '{{version}} ({{mesh_provider}})',
            'A',
          ).instant(),
        )
        .thresholds(
          new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([
            { value: null, color: 'red' },
            { value: 1, color: 'green' },
          ]),
        ),
    )
    .withPanel(
      timeseries('Canaries', 'Canaries per namespace and analysis steps run per second.')
        .height(6)
        .span(9)
        .withTarget(
          query('sum by (namespace) (flagger_canary_total{namespace=~"$namespace"})', '{{namespace}}', 'A'),
        )
        .withTarget(query('sum(rate(vireo_canary_ticks_total[$__rate_interval]))', 'steps/s', 'B')),
    )
    .withPanel(
      timeseries('Work queue', 'Canaries waiting for a worker, and retries after errors.')
        .height(6)
        .span(9)
        .withTarget(query('sum by (name) (vireo_workqueue_depth)', 'depth {{name}}', 'A'))
        .withTarget(
          query(
            'sum by (name) (rate(vireo_workqueue_retries_total[$__rate_interval]))',
            'retries/s {{name}}',
            'B',
          ),
        ),
    )
    .withPanel(
      timeseries('Kubernetes API requests', 'Requests per second sent to the API server, by verb.')
        .unit('reqps')
        .withTarget(
          query('sum by (verb) (rate(vireo_kube_requests_total[$__rate_interval]))', '{{verb}}', 'A'),
        ),
    )
    .withPanel(
      timeseries(
        'Watches',
        'Seconds since each watch last delivered an event: a large value is a stuck watch.',
      )
        .unit('s')
        .withTarget(query('max by (resource) (vireo_watch_last_event_age_seconds)', '{{resource}}', 'A')),
    )
    .withPanel(
      timeseries('Alerts', 'Alert deliveries by result, waiting messages and drops.')
        .withTarget(
          query('sum by (result) (rate(vireo_alerts_total[$__rate_interval]))', '{{result}}/s', 'A'),
        )
        .withTarget(query('sum(vireo_alerts_queued)', 'queued', 'B'))
        .withTarget(
          query(
            'sum by (reason) (increase(vireo_alerts_dropped_total[$__rate_interval]))',
            'dropped ({{reason}})',
            'C',
          ),
        ),
    )
    .withPanel(
      timeseries(
        'Controller memory and CPU',
        'Resident memory and CPU seconds per second of the controller process.',
      )
        .unit('bytes')
        .withTarget(
          query('process_resident_memory_bytes and on (instance) flagger_info', 'memory {{instance}}', 'A'),
        )
        .withTarget(
          query(
            'rate(process_cpu_seconds_total[$__rate_interval]) and on (instance) flagger_info',
            'CPU {{instance}}',
            'B',
          ),
        )
        .overrideByQuery('B', [{ id: 'unit', value: 'percentunit' }]),
    )
    .build();
}
