// Small uPlot charts of a model's versions: one line per version, the same colour for a version
// on every chart. uPlot is served by tandem itself from node_modules (no CDN).
import uPlot from '/console/vendor/uplot/uPlot.esm.js';

// Colours with at least 3:1 contrast on white (WCAG for graphics).
const COLOURS = ['#1f5fa8', '#b4451f', '#2c7a3a', '#7a3fa0', '#8a6d00', '#0f6e75'];

export const METRICS = [
  { key: 'rps', label: 'requests/s', floor: 1, format: (v) => (v == null ? '–' : v.toFixed(1)) },
  { key: 'errorRate', label: 'error rate', floor: 0.05, format: (v) => (v == null ? '–' : `${(v * 100).toFixed(1)} %`) },
  { key: 'p95Ms', label: 'p95 latency (ms)', floor: 10, format: (v) => (v == null ? '–' : v.toFixed(0)) },
];

export function colourOf(index) {
  return COLOURS[index % COLOURS.length];
}

/**
 * Aligns per-version series on one time axis for uPlot: [[t...], [v1...], [v2...]]. Series are
 * `{ label, points: { t, [key] } }`; a missing point is null (a gap).
 */
export function align(series, key) {
  const times = [...new Set(series.flatMap((s) => s.points?.t ?? []))].sort((a, b) => a - b);
  const data = [times];
  for (const s of series) {
    const at = new Map((s.points?.t ?? []).map((t, i) => [t, s.points[key][i]]));
    data.push(times.map((t) => (at.has(t) ? at.get(t) : null)));
  }
  return data;
}

/** A chart of `metric` for `series` in `container`; returns { update(series) }. */
export function chart(container, metric, series, width = 300) {
  let plot;
  let labels = '';
  const make = (list) => {
    plot?.destroy();
    labels = list.map((s) => s.label).join('\0');
    plot = new uPlot(
      {
        width,
        height: 140,
        title: metric.label,
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        // From 0, and never flatter than `floor`: an all-zero error rate reads as 0 %, not as noise.
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(metric.floor, (max ?? 0) * 1.1)] } },
        axes: [{ stroke: '#333', grid: { stroke: '#e4e4e4' } }, { stroke: '#333', size: 50, grid: { stroke: '#e4e4e4' }, values: (_u, ticks) => ticks.map((t) => metric.format(t)) }],
        series: [{}, ...list.map((s) => ({ label: s.label, stroke: s.colour, width: 2, spanGaps: false, value: (_u, v) => metric.format(v) }))],
      },
      align(list, metric.key),
      container,
    );
  };
  // What a screen reader gets instead of the canvas: each version's latest value.
  const caption = document.createElement('figcaption');
  caption.className = 'visually-hidden';
  const describe = (list) => {
    caption.textContent = `${metric.label}, latest: ${list.map((s) => `${s.label} ${metric.format(s.points?.[metric.key]?.at(-1))}`).join(', ')}`;
  };
  make(series);
  container.append(caption);
  describe(series);
  return {
    update(list) {
      if (list.map((s) => s.label).join('\0') !== labels) make(list);
      else plot.setData(align(list, metric.key));
      describe(list);
    },
  };
}
