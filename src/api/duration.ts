/**
 * Durations as Flagger reads them: Go's `time.ParseDuration` grammar ("300ms", "1.5h", "2h45m",
 * "-1m"), so a value Flagger accepts means the same thing here.
 */

const UNIT_MILLISECONDS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const SEGMENT = /^([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)/;

/** Returns the duration in milliseconds, or undefined when `text` is not a Go duration. */
export function parseGoDuration(text: string): number | undefined {
  let rest = text.trim() === text ? text : '';
  if (rest === '') return undefined;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  while (rest !== '') {
    const match = SEGMENT.exec(rest);
    if (!match) return undefined;
    const [whole, amount, unit] = match as unknown as [string, string, string];
    if (amount === '' || amount === '.') return undefined;
    total += Number(amount) * (UNIT_MILLISECONDS[unit] ?? Number.NaN);
    rest = rest.slice(whole.length);
  }
  return Number.isFinite(total) ? sign * total : undefined;
}

/** Formats milliseconds the way people write intervals: 90000 → "1m30s", 500 → "500ms". */
export function formatDuration(milliseconds: number): string {
  if (milliseconds === 0) return '0s';
  const sign = milliseconds < 0 ? '-' : '';
  let rest = Math.abs(milliseconds);
  if (rest < 1000) return `${sign}${rest}ms`;
  const parts: string[] = [];
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = rest / 1000;
  if (hours > 0) parts.push(`${hours}h`);
  if (minutes > 0) parts.push(`${minutes}m`);
  if (seconds > 0) parts.push(`${Number(seconds.toFixed(3))}s`);
  return sign + parts.join('');
}

/**
 * Prometheus range selectors (`rate(x[1m])`) accept a stricter grammar than Go: integer amounts
 * and the units ms, s, m, h, d, w, y. A metric `interval` ends up inside `[...]`, so it must fit.
 */
export function isPrometheusDuration(text: string): boolean {
  return /^([0-9]+(ms|s|m|h|d|w|y))+$/.test(text);
}
