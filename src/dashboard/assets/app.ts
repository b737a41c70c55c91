/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The dashboard's page script (served as /assets/app.js): plain DOM, no framework, every text set
 * with textContent (never innerHTML), charts drawn as SVG by hand. The credential lives in this
 * tab's sessionStorage and travels only in the Authorization header; live updates come from
 * /api/events read with fetch (EventSource cannot send that header). docs/dashboard.md.
 */

interface DecisionSummary {
  time: string;
  action: string;
  message: string;
}
interface Row {
  namespace: string;
  name: string;
  phase: string;
  weight: number;
  failedChecks: number;
  threshold?: number;
  iterations: number;
  progress: { step: number; steps: number };
  suspended: boolean;
  lastTransitionTime?: string;
  lastDecision?: DecisionSummary;
  columns: Record<string, string>;
}
interface CheckPoint {
  time: string;
  value?: number;
  min?: number;
  max?: number;
  verdict: string;
  text: string;
}
interface Detail {
  row: Row;
  revisions: { primary?: string; canary?: string; note?: string };
  statusText: string;
  weights: { time: string; weight: number; action: string }[];
  checks: Record<string, CheckPoint[]>;
  timeline: { time: string; action: string; message: string; next: string; text: string }[];
  gates: {
    name: string;
    type: string;
    loadtester?: string;
    lastAnswer?: { time: string; status: number; body: string };
  }[];
  decisionsNote?: string;
}
interface Session {
  user: string;
  kind: string;
  csrfToken: string;
  mode: string;
  where: string;
  actions: string[];
  gates: boolean;
}

const TOKEN_KEY = 'vireo-dashboard-token';
const main = document.getElementById('main') as HTMLElement;
const who = document.getElementById('who') as HTMLElement;
const live = document.getElementById('live') as HTMLElement;
let session: Session | undefined;
const rows = new Map<string, Row>();
let renderCurrent: (() => void) | undefined;
let detailReload: ((key: string) => void) | undefined;
let streamAbort: AbortController | undefined;

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: (Node | string | undefined)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  for (const child of children) if (child !== undefined) element.append(child);
  return element;
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag: string, attributes: Record<string, string | number>, text?: string): SVGElement {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const token = sessionStorage.getItem(TOKEN_KEY) ?? '';
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (init.body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['x-vireo-csrf'] = session?.csrfToken ?? '';
  }
  const response = await fetch(path, {
    method: init.method ?? 'GET',
    headers,
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    cache: 'no-store',
    credentials: 'omit',
  });
  const body = (await response.json().catch(() => ({}))) as { error?: string };
  if (!response.ok) throw new ApiError(response.status, body.error ?? `HTTP ${response.status}`);
  return body as T;
}

function since(time: string | undefined): string {
  if (time === undefined) return '';
  const ms = Date.now() - Date.parse(time);
  if (Number.isNaN(ms)) return '';
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${seconds % 60}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d`;
}

const clock = (time: string): string =>
  Number.isNaN(Date.parse(time)) ? time : new Date(time).toISOString().slice(11, 19);

function phaseCell(phase: string): HTMLElement {
  return el(
    'span',
    { class: `phase phase-${phase.replace(/[^A-Za-z]/g, '')}`, 'data-testid': 'phase' },
    phase || 'not initialized',
  );
}

function progressCell(row: Row): HTMLElement {
  const { step, steps } = row.progress;
  const bar = el(
    'span',
    { class: 'bar' },
    el('span', { 'data-width': String(steps === 0 ? 0 : Math.round((step / steps) * 100)) }),
  );
  // Widths from the data attribute: the CSP allows no inline style attribute written as text.
  (bar.firstElementChild as HTMLElement).style.width =
    `${steps === 0 ? 0 : Math.round((step / steps) * 100)}%`;
  return el('span', {}, bar, steps === 0 ? '' : `${step}/${steps}`);
}

function navigate(path: string): void {
  history.pushState(null, '', path);
  route();
}

document.addEventListener('click', (event) => {
  const link = (event.target as HTMLElement).closest('a');
  if (link === null || link.origin !== location.origin || event.ctrlKey || event.metaKey) return;
  event.preventDefault();
  navigate(link.pathname);
});
window.addEventListener('popstate', () => route());

function showError(error: unknown): void {
  if (error instanceof ApiError && error.status === 401) return signIn('Your token was not accepted.');
  main.replaceChildren(
    el(
      'div',
      { class: 'notice error', role: 'alert', 'data-testid': 'error' },
      error instanceof Error ? error.message : String(error),
    ),
  );
}

function signIn(problem?: string): void {
  streamAbort?.abort();
  session = undefined;
  who.textContent = '';
  const input = el('input', {
    type: 'password',
    id: 'token',
    name: 'token',
    autocomplete: 'off',
    required: '',
  });
  const form = el(
    'form',
    { class: 'signin' },
    el('h1', {}, 'Sign in'),
    problem === undefined ? undefined : el('div', { class: 'notice error', role: 'alert' }, problem),
    el(
      'p',
      { class: 'muted' },
      'Paste the dashboard token, or your own Kubernetes bearer token (kubectl create token …). It is kept in this tab only.',
    ),
    el('label', { for: 'token' }, 'Token'),
    input,
    el('button', { type: 'submit', class: 'primary' }, 'Sign in'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    void start();
  });
  main.replaceChildren(form);
  input.focus();
}

function listPage(): void {
  const text = el('input', {
    type: 'search',
    placeholder: 'Filter by name or namespace',
    'aria-label': 'filter',
    'data-testid': 'filter',
  });
  const phase = el(
    'select',
    { 'aria-label': 'phase', 'data-testid': 'phase-filter' },
    el('option', { value: '' }, 'All phases'),
  );
  for (const name of [
    'Initialized',
    'Waiting',
    'Progressing',
    'WaitingPromotion',
    'Promoting',
    'Finalising',
    'Succeeded',
    'Failed',
    'Terminating',
    'Terminated',
  ])
    phase.append(el('option', { value: name }, name));
  const body = el('tbody');
  const table = el(
    'div',
    { class: 'table-wrap' },
    el(
      'table',
      { 'data-testid': 'canaries' },
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          ...[
            'Namespace',
            'Name',
            'Phase',
            'Weight',
            'Progress',
            'Failed checks',
            'Last decision',
            'In phase',
          ].map((title, index) => el('th', index === 6 ? { class: 'wide' } : {}, title)),
        ),
      ),
      body,
    ),
  );
  const empty = el('p', { class: 'muted', 'data-testid': 'empty' });
  const render = (): void => {
    const filter = text.value.trim().toLowerCase();
    const shown = [...rows.values()]
      .filter(
        (row) =>
          (filter === '' || `${row.namespace}/${row.name}`.includes(filter)) &&
          (phase.value === '' || row.phase === phase.value),
      )
      .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
    body.replaceChildren(
      ...shown.map((row) =>
        el(
          'tr',
          { 'data-canary': `${row.namespace}/${row.name}` },
          el('td', { 'data-testid': 'namespace' }, row.namespace),
          el(
            'td',
            { 'data-testid': 'name' },
            el(
              'a',
              { href: `/canaries/${encodeURIComponent(row.namespace)}/${encodeURIComponent(row.name)}` },
              row.name,
            ),
          ),
          el(
            'td',
            {},
            phaseCell(row.phase),
            row.suspended ? el('span', { class: 'muted small' }, ' paused') : undefined,
          ),
          el('td', { class: 'num', 'data-testid': 'weight' }, row.columns['Weight'] ?? ''),
          el('td', { 'data-testid': 'progress' }, progressCell(row)),
          el(
            'td',
            { class: 'num', 'data-testid': 'failed' },
            `${row.failedChecks}${row.threshold === undefined ? '' : ` of ${row.threshold}`}`,
          ),
          el(
            'td',
            { class: 'wide small', 'data-testid': 'last-decision' },
            row.lastDecision === undefined
              ? ''
              : `${clock(row.lastDecision.time)} ${row.lastDecision.action}: ${row.lastDecision.message}`,
          ),
          el(
            'td',
            { class: 'num', 'data-testid': 'in-phase', 'data-since': row.lastTransitionTime ?? '' },
            since(row.lastTransitionTime),
          ),
        ),
      ),
    );
    empty.textContent =
      shown.length === 0 ? (rows.size === 0 ? 'No canaries yet.' : 'No canary matches the filters.') : '';
  };
  text.addEventListener('input', render);
  phase.addEventListener('change', render);
  main.replaceChildren(el('h1', {}, 'Canaries'), el('div', { class: 'filters' }, text, phase), table, empty);
  renderCurrent = render;
  detailReload = undefined;
  api<{ items: Row[] }>('/api/canaries')
    .then((list) => {
      rows.clear();
      for (const row of list.items) rows.set(`${row.namespace}/${row.name}`, row);
      render();
    })
    .catch(showError);
}

/** A line chart of `points` over time, with an optional band of allowed values per point. */
function chart(
  title: string,
  points: { time: string; value?: number; min?: number; max?: number; verdict?: string }[],
  options: { yMin?: number; yMax?: number; unit?: string; testid: string },
): HTMLElement {
  const width = 640;
  const height = 180;
  const left = 44;
  const right = 12;
  const top = 10;
  const bottom = 24;
  const values = points
    .flatMap((point) => [point.value, point.min, point.max])
    .filter((value): value is number => value !== undefined && Number.isFinite(value));
  let yMin = options.yMin ?? Math.min(...values, 0);
  let yMax = options.yMax ?? Math.max(...values, 1);
  if (options.yMin === undefined && values.length > 0) {
    const low = Math.min(...values);
    const high = Math.max(...values);
    const pad = (high - low || Math.abs(high) || 1) * 0.15;
    // Measurements that cannot be negative (rates, durations) keep the axis at zero or above.
    yMin = low >= 0 ? Math.max(0, low - pad) : low - pad;
    yMax = high + pad;
  }
  if (yMax <= yMin) yMax = yMin + 1;
  const times = points.map((point) => Date.parse(point.time));
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const x = (time: number): number =>
    left + (t1 === t0 ? (width - left - right) / 2 : ((time - t0) / (t1 - t0)) * (width - left - right));
  const y = (value: number): number =>
    top + (1 - (Math.min(Math.max(value, yMin), yMax) - yMin) / (yMax - yMin)) * (height - top - bottom);
  const root = svg('svg', {
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': title,
    'data-testid': options.testid,
    'data-points': points.length,
  });
  root.append(svg('line', { class: 'axis', x1: left, y1: top, x2: left, y2: height - bottom }));
  root.append(
    svg('line', { class: 'axis', x1: left, y1: height - bottom, x2: width - right, y2: height - bottom }),
  );
  // The allowed band: between min and max, each unbounded side reaching the chart's edge.
  const banded = points.filter((point) => point.min !== undefined || point.max !== undefined);
  if (banded.length > 0) {
    const upper = banded.map((point) => `${x(Date.parse(point.time))},${y(point.max ?? yMax)}`);
    const lower = [...banded]
      .reverse()
      .map((point) => `${x(Date.parse(point.time))},${y(point.min ?? yMin)}`);
    if (banded.length === 1) {
      const point = banded[0]!;
      root.append(
        svg('rect', {
          class: 'band',
          x: left,
          width: width - left - right,
          y: y(point.max ?? yMax),
          height: Math.max(1, y(point.min ?? yMin) - y(point.max ?? yMax)),
        }),
      );
    } else root.append(svg('polygon', { class: 'band', points: [...upper, ...lower].join(' ') }));
    const last = banded.at(-1)!;
    for (const limit of [last.min, last.max])
      if (limit !== undefined) {
        root.append(svg('line', { class: 'limit', x1: left, x2: width - right, y1: y(limit), y2: y(limit) }));
        root.append(
          svg(
            'text',
            { x: width - right, y: y(limit) - 3, 'text-anchor': 'end' },
            `threshold ${format(limit)}${options.unit ?? ''}`,
          ),
        );
      }
  }
  const measured = points.filter((point) => point.value !== undefined && Number.isFinite(point.value));
  if (measured.length > 1)
    root.append(
      svg('polyline', {
        class: 'line',
        points: measured.map((point) => `${x(Date.parse(point.time))},${y(point.value!)}`).join(' '),
      }),
    );
  for (const point of measured) {
    const dot = svg('circle', {
      class: point.verdict === undefined ? 'pt' : `pt-${point.verdict}`,
      cx: x(Date.parse(point.time)),
      cy: y(point.value!),
      r: 3.5,
    });
    dot.append(
      svg(
        'title',
        {},
        `${clock(point.time)} ${format(point.value!)}${options.unit ?? ''}${point.verdict === undefined ? '' : ` ${point.verdict}`}`,
      ),
    );
    root.append(dot);
  }
  root.append(svg('text', { x: left - 4, y: top + 8, 'text-anchor': 'end' }, format(yMax)));
  root.append(svg('text', { x: left - 4, y: height - bottom, 'text-anchor': 'end' }, format(yMin)));
  if (points.length > 0) {
    root.append(svg('text', { x: left, y: height - 6 }, clock(points[0]!.time)));
    root.append(
      svg('text', { x: width - right, y: height - 6, 'text-anchor': 'end' }, clock(points.at(-1)!.time)),
    );
  }
  return el('div', { class: 'chart' }, el('p', { class: 'title' }, title), root as unknown as Node);
}

const format = (value: number): string =>
  Number.isInteger(value) ? String(value) : value.toFixed(Math.abs(value) >= 100 ? 1 : 2);

function fact(label: string, value: string | Node, testid: string): HTMLElement {
  return el(
    'div',
    { class: 'fact' },
    el('div', { class: 'label' }, label),
    el('div', { class: 'value', 'data-testid': testid }, value),
  );
}

function confirmDialog(title: string, detail: string, onConfirm: (reason: string) => Promise<void>): void {
  const reason = el('input', {
    type: 'text',
    id: 'reason',
    required: '',
    maxlength: '1024',
    'data-testid': 'reason',
  });
  const problem = el('div', { role: 'alert' });
  const confirm = el('button', { type: 'submit', class: 'primary', 'data-testid': 'confirm' }, 'Confirm');
  const cancel = el('button', { type: 'button' }, 'Cancel');
  const form = el(
    'form',
    { method: 'dialog' },
    el('h2', {}, title),
    el('p', {}, detail),
    el('label', { for: 'reason' }, 'Reason (recorded with the action)'),
    reason,
    problem,
    el('div', { class: 'buttons' }, cancel, confirm),
  );
  const dialog = el('dialog', { 'data-testid': 'confirm-dialog' }, form);
  document.body.append(dialog);
  cancel.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => dialog.remove());
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (reason.value.trim() === '') return;
    confirm.disabled = true;
    onConfirm(reason.value.trim())
      .then(() => dialog.close())
      .catch((error: unknown) => {
        confirm.disabled = false;
        problem.className = 'notice error';
        problem.setAttribute('data-testid', 'action-error');
        problem.textContent = error instanceof Error ? error.message : String(error);
      });
  });
  dialog.showModal();
  reason.focus();
}

const ACTION_WORDS: Record<string, string> = {
  promote: 'Promote the canary now, skipping the remaining analysis.',
  abort: 'Abort: roll the canary back to the primary.',
  pause: 'Pause: the controller skips this canary (spec.suspend: true) and holds the weight.',
  resume: 'Resume the analysis (spec.suspend: false).',
  retry: 'Retry the failed revision as if it were new.',
};

function detailPage(namespace: string, name: string): void {
  const key = `${namespace}/${name}`;
  main.replaceChildren(
    el('h1', {}, `${name}`, el('span', { class: 'muted' }, ` in ${namespace}`)),
    el('p', { class: 'muted' }, 'Loading…'),
  );
  const notice = el('div', { 'data-testid': 'notice' });
  let loading = false;
  let again = false;
  const load = async (): Promise<void> => {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    try {
      const detail = await api<Detail>(
        `/api/canaries/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`,
      );
      if (location.pathname !== `/canaries/${namespace}/${name}`) return;
      render(detail);
    } catch (error) {
      showError(error);
    } finally {
      loading = false;
      if (again) {
        again = false;
        void load();
      }
    }
  };
  const act = async (path: string, body: object, done: string): Promise<void> => {
    const receipt = await api<Record<string, unknown>>(
      `/api/canaries/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/${path}`,
      { method: 'POST', body },
    );
    notice.className = 'notice ok';
    notice.textContent = `${done}${typeof receipt['wrote'] === 'string' ? ` (wrote ${receipt['wrote']})` : ''}`;
    void load();
  };
  const render = (detail: Detail): void => {
    const { row } = detail;
    const actions = el('div', { class: 'actions' });
    for (const action of session?.actions ?? [])
      actions.append(
        el(
          'button',
          { type: 'button', class: action === 'abort' ? 'danger' : '', 'data-action': action },
          action[0]!.toUpperCase() + action.slice(1),
        ),
      );
    const gated = detail.gates.some((gate) => gate.loadtester !== undefined);
    if (session?.gates === true && gated)
      for (const gate of ['open', 'close'])
        actions.append(
          el('button', { type: 'button', 'data-gate': gate }, `${gate === 'open' ? 'Open' : 'Close'} gate`),
        );
    actions.addEventListener('click', (event) => {
      const button = (event.target as HTMLElement).closest('button');
      if (button === null) return;
      const action = button.getAttribute('data-action');
      const gate = button.getAttribute('data-gate');
      if (action !== null)
        confirmDialog(`${action} ${name}?`, ACTION_WORDS[action] ?? action, (reason) =>
          act('actions', { action, reason }, `${action} requested`),
        );
      else if (gate !== null)
        confirmDialog(
          `${gate} the gate of ${name}?`,
          gate === 'open'
            ? 'The next confirm gate check lets the canary go on.'
            : 'Confirm gates hold the canary.',
          (reason) => act('gates', { gate, reason }, `gate ${gate === 'open' ? 'opened' : 'closed'}`),
        );
    });
    const charts = el('section', { 'data-testid': 'charts' });
    charts.append(
      chart(
        'Canary weight (%)',
        detail.weights.map((point) => ({ time: point.time, value: point.weight })),
        { yMin: 0, yMax: 100, unit: '%', testid: 'weight-chart' },
      ),
    );
    for (const [check, points] of Object.entries(detail.checks)) {
      const last = points.at(-1);
      charts.append(
        chart(`${check}: value against its threshold`, points, { testid: `check-chart-${check}` }),
      );
      if (last !== undefined)
        charts.append(
          el('p', { class: 'small', 'data-testid': `check-last-${check}` }, `Last: ${last.text}`),
        );
    }
    const gates = el(
      'tbody',
      {},
      ...detail.gates.map((gate) =>
        el(
          'tr',
          {},
          el('td', {}, gate.name),
          el('td', {}, gate.type),
          el(
            'td',
            { class: 'small' },
            gate.lastAnswer === undefined
              ? 'no answer recorded'
              : `${clock(gate.lastAnswer.time)} ${gate.lastAnswer.status === 0 ? 'no answer' : `HTTP ${gate.lastAnswer.status}`}${gate.lastAnswer.body.trim() === '' ? '' : `: ${gate.lastAnswer.body.trim().slice(0, 200)}`}`,
          ),
        ),
      ),
    );
    const timeline = el(
      'ol',
      { class: 'timeline', 'data-testid': 'timeline' },
      ...[...detail.timeline]
        .reverse()
        .map((decision) => el('li', { class: decision.action }, el('pre', {}, decision.text.trimEnd()))),
    );
    main.replaceChildren(
      el('h1', {}, name, el('span', { class: 'muted' }, ` in ${namespace}`)),
      el(
        'div',
        { class: 'facts' },
        fact('Phase', phaseCell(row.phase), 'detail-phase'),
        fact('Canary weight', `${row.weight}%`, 'detail-weight'),
        fact('Progress', progressCell(row), 'detail-progress'),
        fact(
          'Failed checks',
          `${row.failedChecks}${row.threshold === undefined ? '' : ` of ${row.threshold}`}`,
          'detail-failed',
        ),
        fact('In phase', since(row.lastTransitionTime), 'detail-in-phase'),
        fact('Primary', detail.revisions.primary ?? '', 'primary-revision'),
        fact('Canary', detail.revisions.canary ?? '', 'canary-revision'),
      ),
      detail.revisions.note === undefined
        ? ''
        : el('p', { class: 'muted small' }, `Revisions not read: ${detail.revisions.note}`),
      actions,
      notice,
      el('h2', {}, 'Measurements'),
      detail.decisionsNote === undefined
        ? charts
        : el(
            'div',
            { class: 'notice error', 'data-testid': 'decisions-note' },
            `Decisions not shown: ${detail.decisionsNote}`,
          ),
      ...(detail.gates.length === 0
        ? []
        : [
            el('h2', {}, 'Gates and webhooks'),
            el(
              'div',
              { class: 'table-wrap' },
              el(
                'table',
                { 'data-testid': 'gates' },
                el(
                  'thead',
                  {},
                  el('tr', {}, el('th', {}, 'Name'), el('th', {}, 'Type'), el('th', {}, 'Last answer')),
                ),
                gates,
              ),
            ),
          ]),
      el('h2', {}, 'Decisions'),
      detail.timeline.length === 0 ? el('p', { class: 'muted' }, 'No decision kept yet.') : timeline,
      el('h2', {}, 'vireo status'),
      el('pre', { class: 'status', 'data-testid': 'status-text' }, detail.statusText),
    );
  };
  renderCurrent = undefined;
  detailReload = (changed) => {
    if (changed === key) void load();
  };
  void load();
}

function healthPage(): void {
  renderCurrent = undefined;
  detailReload = undefined;
  main.replaceChildren(el('h1', {}, 'Health'));
  api<Record<string, unknown>>('/api/health')
    .then((health) => {
      const list = el('dl', { 'data-testid': 'health' });
      const add = (prefix: string, value: unknown): void => {
        if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
          for (const [key, inner] of Object.entries(value))
            add(prefix === '' ? key : `${prefix}.${key}`, inner);
          return;
        }
        list.append(
          el('dt', {}, prefix),
          el('dd', { 'data-key': prefix }, typeof value === 'string' ? value : JSON.stringify(value)),
        );
      };
      add('', health);
      main.replaceChildren(el('h1', {}, 'Health'), list);
    })
    .catch(showError);
}

function route(): void {
  const match = /^\/canaries\/([^/]+)\/([^/]+)$/.exec(location.pathname);
  if (match !== null) detailPage(decodeURIComponent(match[1]!), decodeURIComponent(match[2]!));
  else if (location.pathname === '/health') healthPage();
  else listPage();
}

/** Reads /api/events: one stream per tab, fed by the server's one watch. Reconnects when it ends. */
async function stream(signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      const response = await fetch('/api/events', {
        headers: {
          authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY) ?? ''}`,
          accept: 'text/event-stream',
        },
        cache: 'no-store',
        credentials: 'omit',
        signal,
      });
      if (response.status === 401) return signIn('Your token is no longer accepted.');
      if (!response.ok || response.body === null) throw new Error(`HTTP ${response.status}`);
      live.className = 'live on';
      live.textContent = 'live';
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let type = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) type = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (data !== '') onEvent(type, data);
        }
      }
    } catch {
      // Reconnected below, unless the page is leaving.
    }
    live.className = 'live';
    live.textContent = 'reconnecting';
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

function onEvent(type: string, data: string): void {
  if (type === 'canary') {
    const row = JSON.parse(data) as Row;
    const key = `${row.namespace}/${row.name}`;
    rows.set(key, row);
    renderCurrent?.();
    detailReload?.(key);
  } else if (type === 'deleted') {
    const gone = JSON.parse(data) as { namespace: string; name: string };
    rows.delete(`${gone.namespace}/${gone.name}`);
    renderCurrent?.();
  }
}

async function start(): Promise<void> {
  if ((sessionStorage.getItem(TOKEN_KEY) ?? '') === '') return signIn();
  try {
    session = await api<Session>('/api/session');
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return signIn('Your token was not accepted.');
    return showError(error);
  }
  who.textContent = `${session.user} · ${session.where}`;
  streamAbort?.abort();
  streamAbort = new AbortController();
  void stream(streamAbort.signal);
  route();
}

// "In phase" ticks on the page; nothing is asked of the server for it.
setInterval(() => {
  for (const cell of document.querySelectorAll<HTMLElement>('[data-since]'))
    cell.textContent = since(cell.getAttribute('data-since') ?? undefined);
}, 1000);

void start();
