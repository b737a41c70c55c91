/** The dashboard's one stylesheet, served as /assets/app.css (no inline styles: the CSP forbids them). */
export const DASHBOARD_CSS = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #5b6570; --bg: #fff; --card: #f5f7f9; --line: #d5dbe1;
  --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --accent: #0969da; --band: rgba(26,127,55,.14); }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9aa5b1; --bg: #0d1117; --card: #161b22;
  --line: #30363d; --ok: #3fb950; --bad: #f85149; --warn: #d29922; --accent: #58a6ff; --band: rgba(63,185,80,.16); } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; gap: .4rem 1rem; align-items: baseline; padding: .6rem 1rem; border-bottom: 1px solid var(--line); }
header a.brand { font-weight: 700; font-size: 1.1rem; color: var(--fg); text-decoration: none; }
header nav { display: flex; gap: .8rem; }
header .who { margin-left: auto; color: var(--muted); font-size: .85rem; }
a { color: var(--accent); }
main { padding: 1rem; max-width: 1100px; margin: 0 auto; }
h1 { font-size: 1.3rem; margin: .2rem 0 .8rem; overflow-wrap: anywhere; }
h2 { font-size: 1.05rem; margin: 1.4rem 0 .5rem; }
.filters { display: flex; flex-wrap: wrap; gap: .5rem; margin-bottom: .8rem; }
input, select, button, textarea { font: inherit; color: inherit; background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: .35rem .6rem; }
button { cursor: pointer; background: var(--card); }
button.danger { border-color: var(--bad); color: var(--bad); }
button.primary { border-color: var(--accent); color: var(--accent); }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .45rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: .8rem; color: var(--muted); font-weight: 600; text-transform: uppercase; letter-spacing: .03em; }
td.num { font-variant-numeric: tabular-nums; }
.phase { font-weight: 600; }
.phase-Succeeded, .phase-Initialized { color: var(--ok); }
.phase-Failed { color: var(--bad); }
.phase-Progressing, .phase-Promoting, .phase-Finalising, .phase-Waiting, .phase-WaitingPromotion { color: var(--warn); }
.bar { display: inline-block; width: 5rem; height: .5rem; background: var(--line); border-radius: 3px; overflow: hidden; vertical-align: middle; margin-right: .3rem; }
.bar > span { display: block; height: 100%; background: var(--accent); }
.muted { color: var(--muted); }
.small { font-size: .85rem; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(10rem, 1fr)); gap: .5rem; margin: .5rem 0 1rem; }
.fact { background: var(--card); border-radius: 8px; padding: .5rem .7rem; }
.fact .label { font-size: .75rem; color: var(--muted); text-transform: uppercase; }
.fact .value { font-weight: 600; overflow-wrap: anywhere; }
.chart { background: var(--card); border-radius: 8px; padding: .5rem; margin-bottom: .8rem; }
.chart svg { width: 100%; height: auto; display: block; }
.chart .title { font-weight: 600; margin: 0 0 .3rem .2rem; }
svg .axis { stroke: var(--line); stroke-width: 1; }
svg .line { fill: none; stroke: var(--accent); stroke-width: 2; }
svg .band { fill: var(--band); }
svg .limit { stroke: var(--ok); stroke-dasharray: 4 3; stroke-width: 1; }
svg .pt-pass { fill: var(--ok); } svg .pt-fail { fill: var(--bad); } svg .pt-inconclusive { fill: var(--warn); } svg .pt { fill: var(--accent); }
svg text { fill: var(--muted); font-size: 11px; font-family: inherit; }
ol.timeline { list-style: none; padding: 0; margin: 0; }
ol.timeline li { border-left: 3px solid var(--line); padding: .3rem .7rem; margin-bottom: .3rem; }
ol.timeline li.halt, ol.timeline li.rollback, ol.timeline li.fail-promotion { border-color: var(--bad); }
ol.timeline li.advance, ol.timeline li.promote, ol.timeline li.succeed { border-color: var(--ok); }
ol.timeline pre { margin: .2rem 0 0; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; }
pre.status { background: var(--card); border-radius: 8px; padding: .7rem; }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; }
dialog { border: 1px solid var(--line); border-radius: 10px; background: var(--bg); color: var(--fg); max-width: 28rem; width: calc(100% - 2rem); }
dialog::backdrop { background: rgba(0,0,0,.4); }
dialog label { display: block; margin: .6rem 0 .3rem; }
dialog input { width: 100%; }
dialog .buttons { display: flex; gap: .5rem; justify-content: flex-end; margin-top: .8rem; }
.notice { padding: .5rem .7rem; border-radius: 6px; background: var(--card); margin: .5rem 0; }
.notice.error { border-left: 4px solid var(--bad); }
.notice.ok { border-left: 4px solid var(--ok); }
form.signin { max-width: 26rem; }
form.signin input { width: 100%; margin: .4rem 0 .7rem; }
.live { font-size: .8rem; color: var(--muted); }
.live.on::before { content: "● "; color: var(--ok); }
@media (max-width: 640px) { main { padding: .6rem; } th.wide, td.wide { display: none; } }
`;
