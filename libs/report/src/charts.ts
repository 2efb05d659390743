/**
 * The report's charts: vega-lite specs compiled to vega and rendered to SVG in Node (a headless `View`), so the page
 * needs no script and no network.
 */
import { parse, View } from 'vega';
import { compile, TopLevelSpec } from 'vega-lite';
import { DataReport } from './data-report';
import { efAgreement, efAgreementPhrases, efAgreementPoints, EfPair, signedPp } from './ef-agreement';

export interface Chart {
  /** Stable id (also the figure's DOM id), e.g. `images-per-case`. */
  id: string;
  title: string;
  /** What the chart shows, in one or two sentences: the figure caption and the SVG's accessible name. */
  caption: string;
  spec: TopLevelSpec;
}

const SPLIT_COLORS = { domain: ['train', 'val', 'test'], range: ['#1f5fa8', '#c2410c', '#5b6b2f'] };
// Dark text on white throughout: vega's default grey labels are below WCAG contrast for small text.
const CONFIG = {
  font: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
  axis: { labelColor: '#1a1a1a', titleColor: '#1a1a1a', labelFontSize: 11, titleFontSize: 12, domainColor: '#555', tickColor: '#555' },
  legend: { labelColor: '#1a1a1a', titleColor: '#1a1a1a', labelFontSize: 11, titleFontSize: 12 },
  header: { labelColor: '#1a1a1a', labelFontSize: 11 },
  view: { stroke: '#bbb' },
};

function splitColor(domain: string[]) {
  const known = domain.filter((s) => SPLIT_COLORS.domain.includes(s));
  const extra = domain.filter((s) => !SPLIT_COLORS.domain.includes(s));
  const extraColors = ['#6b21a8', '#0f766e', '#854d0e', '#374151'];
  return {
    domain: [...known, ...extra],
    range: [...known.map((s) => SPLIT_COLORS.range[SPLIT_COLORS.domain.indexOf(s)]), ...extra.map((_, i) => extraColors[i % extraColors.length])],
  };
}

const base = (description: string) => ({ $schema: 'https://vega.github.io/schema/vega-lite/v5.json', description, config: CONFIG, background: 'white' });

const pct = (x: number, digits = 1) => `${(x * 100).toFixed(digits)} %`;

/** The chart specs of a report, in page order. */
export function reportCharts(r: DataReport): Chart[] {
  const splits = r.counts.perSplit.map((s) => s.split);
  const color = { field: 'split', type: 'nominal' as const, title: 'split', scale: splitColor(splits) };
  const caseOrder = r.counts.perCase.map((c) => c.case);
  const charts: Chart[] = [];

  charts.push({
    id: 'images-per-case',
    title: 'Images per case',
    caption: `Labelled images per case (${r.counts.cases} cases, ${r.counts.images} images), coloured by split.`,
    spec: {
      ...base('Bar chart: labelled images per case, coloured by split'),
      width: Math.max(240, 18 * caseOrder.length),
      height: 180,
      data: { values: r.counts.perCase },
      mark: { type: 'bar', tooltip: true },
      encoding: {
        x: { field: 'case', type: 'nominal', sort: caseOrder, title: 'case', axis: { labelAngle: -50 } },
        y: { field: 'images', type: 'quantitative', title: 'images' },
        color,
      },
    } as TopLevelSpec,
  });

  const im = r.imbalance;
  charts.push({
    id: 'lv-fraction',
    title: 'LV pixel fraction per image',
    caption: `How much of each image is LV: mean ${pct(im.meanLvFraction, 2)} (dashed line), median ${pct(im.medianLvFraction, 2)}, max ${pct(im.maxLvFraction, 2)}.`,
    spec: {
      ...base('Histogram of the share of LV pixels per image, with the mean marked'),
      width: 520,
      height: 200,
      layer: [
        {
          data: { values: r.lvFractionPercentHistogram },
          mark: { type: 'bar', color: '#1f5fa8', tooltip: true },
          encoding: {
            x: { field: 'start', type: 'quantitative', bin: { binned: true }, title: 'LV pixels, % of the image' },
            x2: { field: 'end' },
            y: { field: 'count', type: 'quantitative', title: 'images' },
          },
        },
        {
          data: { values: [{ mean: im.meanLvFraction * 100 }] },
          mark: { type: 'rule', color: '#b91c1c', strokeDash: [6, 4], strokeWidth: 2 },
          encoding: { x: { field: 'mean', type: 'quantitative' } },
        },
      ],
    } as TopLevelSpec,
  });

  const mm2 = r.area.spacingKnown === 'all';
  charts.push({
    id: 'lv-area-per-case',
    title: 'LV area per case',
    caption: `Distribution of the expert LV area over each case's images, in ${mm2 ? 'mm²' : 'pixels'} (box: quartiles, whiskers: min to max).${mm2 ? '' : ' No pixel spacing is known for these files, so areas stay in pixels.'}`,
    spec: {
      ...base(`Box plots of LV area per image for each case, in ${mm2 ? 'square millimetres' : 'pixels'}`),
      width: Math.max(240, 18 * caseOrder.length),
      height: 220,
      data: { values: r.images.map((x) => ({ case: x.case, split: x.split, area: mm2 ? x.lvAreaMm2 : x.lvPixels })) },
      mark: { type: 'boxplot', extent: 'min-max' },
      encoding: {
        x: { field: 'case', type: 'nominal', sort: caseOrder, title: 'case', axis: { labelAngle: -50 } },
        y: { field: 'area', type: 'quantitative', title: mm2 ? 'LV area (mm²)' : 'LV area (pixels)' },
        color,
      },
    } as TopLevelSpec,
  });

  const phaseRows = r.phases.perCase.flatMap((p) => [
    { case: p.case, phase: 'ED (end-diastole)', area: mm2 ? p.meanEdAreaMm2 : p.meanEdAreaPx, frames: p.ed },
    { case: p.case, phase: 'ES (end-systole)', area: mm2 ? p.meanEsAreaMm2 : p.meanEsAreaPx, frames: p.es },
  ]).filter((x) => x.area !== null);
  if (phaseRows.length > 0) {
    charts.push({
      id: 'lv-area-by-phase',
      title: 'LV area by cardiac phase',
      caption: `Mean LV area per case at end-diastole and end-systole (${mm2 ? 'mm²' : 'pixels'}), over the frames the phase rule could pair; ${r.phases.counts.unknown} frame(s) stayed unknown.`,
      spec: {
        ...base('Grouped bar chart: mean LV area per case at end-diastole and at end-systole'),
        width: Math.max(240, 22 * caseOrder.length),
        height: 200,
        data: { values: phaseRows },
        mark: { type: 'bar', tooltip: true },
        encoding: {
          x: { field: 'case', type: 'nominal', sort: caseOrder, title: 'case', axis: { labelAngle: -50 } },
          xOffset: { field: 'phase', type: 'nominal' },
          y: { field: 'area', type: 'quantitative', title: mm2 ? 'mean LV area (mm²)' : 'mean LV area (pixels)' },
          color: { field: 'phase', type: 'nominal', title: 'phase', scale: { range: ['#7c2d12', '#f59e0b'] } },
        },
      } as TopLevelSpec,
    });
  }

  const w = r.intensity.binWidth;
  charts.push(intensityPerCaseChart(r.intensity.perCase, r.intensity.binStarts, w, caseOrder, color));

  charts.push({
    id: 'intensity-inside-outside',
    title: 'Model-input intensity inside and outside the LV',
    caption: 'Normalised intensity of LV pixels against all other pixels, every image pooled: the blood pool is bright, which is what a model can key on.',
    spec: {
      ...base('Line chart: share of pixels per normalised intensity, inside the LV mask and outside it'),
      width: 520,
      height: 200,
      data: {
        values: r.intensity.binStarts.flatMap((s, i) => [
          { intensity: s + w / 2, region: 'inside LV', share: r.intensity.insideLv[i] },
          { intensity: s + w / 2, region: 'outside LV', share: r.intensity.outsideLv[i] },
        ]),
      },
      mark: { type: 'line', point: true, tooltip: true },
      encoding: {
        x: { field: 'intensity', type: 'quantitative', title: 'normalised intensity (bin centre)', scale: { domain: [0, 1] } },
        y: { field: 'share', type: 'quantitative', title: 'share of pixels in the region', axis: { format: '.0%' } },
        color: { field: 'region', type: 'nominal', title: 'pixels', scale: { range: ['#b91c1c', '#374151'] } },
      },
    } as TopLevelSpec,
  });
  if (r.modelEf) charts.push(efBlandAltmanChart(r.modelEf.perCase, { context: modelEfContext(r.modelEf) }));
  return charts;
}

/** Axis titles of the per-case intensity grid, said once above the grid (its cells are too small to repeat them). */
export const INTENSITY_GRID_AXES = { x: 'x: normalised intensity (0 to 1)', y: 'y: share of the case’s pixels (square-root scale)' };

/**
 * Small multiples: one intensity histogram per case. The cells share their scales and carry tick labels only; the axis
 * titles are said once, above the grid: repeated in 60-pixel cells, the titles of neighbouring cells ran into each other.
 */
export function intensityPerCaseChart(
  perCase: ReadonlyArray<{ case: string; split: string; fractions: ArrayLike<number> }>,
  binStarts: readonly number[],
  binWidth: number,
  caseOrder: readonly string[],
  color: Record<string, unknown>,
): Chart {
  return {
    id: 'intensity-per-case',
    title: 'Model-input intensities per case',
    caption: `Histogram of normalize() output (the model's input, 0 to 1, ${binStarts.length} bins) over all pixels of each case: ${INTENSITY_GRID_AXES.x}, ${INTENSITY_GRID_AXES.y}. The bar at 0 is the dark background outside the body; the square-root scale keeps the rest visible.`,
    spec: {
      ...base('Small multiples: histogram of normalised pixel intensity for each case'),
      title: { text: INTENSITY_GRID_AXES.x, subtitle: INTENSITY_GRID_AXES.y, anchor: 'start', fontSize: 12, fontWeight: 'normal', color: '#1a1a1a', subtitleFontSize: 12, subtitleColor: '#1a1a1a', offset: 10 },
      data: {
        values: perCase.flatMap((c) => Array.from(c.fractions, (f, i) => ({ case: c.case, split: c.split, start: binStarts[i], end: binStarts[i] + binWidth, share: f }))),
      },
      facet: { field: 'case', type: 'nominal', sort: [...caseOrder], title: null, header: { labelFontSize: 11 } },
      columns: 6,
      spacing: { row: 14, column: 18 },
      spec: {
        width: 120,
        height: 60,
        mark: { type: 'bar' },
        encoding: {
          x: { field: 'start', type: 'quantitative', bin: { binned: true }, title: null, scale: { domain: [0, 1] }, axis: { values: [0, 0.5, 1], format: '~g', labelFontSize: 9, labelFlush: true } },
          x2: { field: 'end' },
          y: { field: 'share', type: 'quantitative', title: null, scale: { type: 'sqrt' }, axis: { tickCount: 2, format: '.0%', labelFontSize: 9 } },
          color,
        },
      },
    } as TopLevelSpec,
  };
}

/** `model <version> (<architecture>) · split <name>`: what the model-vs-expert figures are of. */
export function modelEfContext(m: { model: { source: string; version?: string; architecture?: string }; split: string }): string {
  return `model ${m.model.version ?? m.model.source}${m.model.architecture ? ` (${m.model.architecture})` : ''} · split ${m.split}`;
}

/** A domain from `min` to `max` widened by `margin` and rounded out to multiples of `step`. */
function steppedDomain(values: readonly number[], margin: number, step: number, empty: [number, number]): [number, number] {
  if (!values.length) return empty;
  const lo = Math.floor((Math.min(...values) - margin) / step) * step;
  const hi = Math.ceil((Math.max(...values) + margin) / step) * step;
  return hi > lo ? [lo, hi] : [lo - step, hi + step];
}

type LabelAlign = 'left' | 'right' | 'center';

/**
 * Where each point's label goes, in data units: right of the point when that space is free of other points and labels,
 * else left, above, below or diagonally (a greedy pass in pixels; the domains are fixed, so pixels are known). Vega-lite
 * has no label-collision step of its own.
 */
export function placePointLabels(
  points: ReadonlyArray<{ x: number; y: number; text: string }>,
  frame: { width: number; height: number; x: [number, number]; y: [number, number] },
  font = { charWidth: 5.4, height: 11, gap: 7, radius: 5 },
): Array<{ labelX: number; labelY: number; align: LabelAlign }> {
  type Box = [number, number, number, number]; // x0, y0, x1, y1 in pixels, y down
  const px = (x: number) => ((x - frame.x[0]) / (frame.x[1] - frame.x[0])) * frame.width;
  const py = (y: number) => frame.height - ((y - frame.y[0]) / (frame.y[1] - frame.y[0])) * frame.height;
  const overlaps = (a: Box, b: Box) => a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
  const r = font.radius;
  const taken: Box[] = points.map((p) => [px(p.x) - r, py(p.y) - r, px(p.x) + r, py(p.y) + r]);
  const { gap, height: h } = font;
  const candidates: Array<{ dx: number; dy: number; align: LabelAlign }> = [
    { dx: gap, dy: 0, align: 'left' },
    { dx: -gap, dy: 0, align: 'right' },
    { dx: 0, dy: -(gap + h / 2), align: 'center' },
    { dx: 0, dy: gap + h / 2, align: 'center' },
    { dx: gap - 2, dy: -h, align: 'left' },
    { dx: gap - 2, dy: h, align: 'left' },
    { dx: 2 - gap, dy: -h, align: 'right' },
    { dx: 2 - gap, dy: h, align: 'right' },
  ];
  return points.map((p) => {
    const w = p.text.length * font.charWidth;
    const boxOf = (c: (typeof candidates)[number]): Box => {
      const ax = px(p.x) + c.dx;
      const ay = py(p.y) + c.dy;
      const x0 = c.align === 'left' ? ax : c.align === 'right' ? ax - w : ax - w / 2;
      return [x0, ay - h / 2, x0 + w, ay + h / 2];
    };
    const inside = (b: Box) => b[0] >= 0 && b[2] <= frame.width && b[1] >= 0 && b[3] <= frame.height;
    const free = candidates.find((c) => inside(boxOf(c)) && !taken.some((t) => overlaps(t, boxOf(c))));
    const chosen = free ?? candidates.find((c) => inside(boxOf(c))) ?? candidates[0];
    taken.push(boxOf(chosen));
    return {
      labelX: frame.x[0] + ((px(p.x) + chosen.dx) / frame.width) * (frame.x[1] - frame.x[0]),
      labelY: frame.y[0] + ((frame.height - py(p.y) - chosen.dy) / frame.height) * (frame.y[1] - frame.y[0]),
      align: chosen.align,
    };
  });
}

/**
 * Bland–Altman plot of model vs expert EF, one point per patient labelled with its case id: x the mean of the two EFs,
 * y model − expert, in percent / percentage points; the bias and the limits of agreement as lines. The figures are in
 * the chart's own subtitle too, so the SVG reads alone (`lvseg eval --plot`). `context` (model, split) opens the subtitle.
 */
export function efBlandAltmanChart(cases: readonly EfPair[], opts: { context?: string } = {}): Chart {
  const a = efAgreement(cases);
  const points = efAgreementPoints(cases);
  const lines = [
    ...(a.bias !== null ? [{ line: 'bias', value: a.bias * 100, label: `bias ${signedPp(a.bias)}` }] : []),
    ...(a.upperLimit !== null ? [{ line: 'limit', value: a.upperLimit * 100, label: `+1.96 SD: ${signedPp(a.upperLimit)}` }] : []),
    ...(a.lowerLimit !== null ? [{ line: 'limit', value: a.lowerLimit * 100, label: `−1.96 SD: ${signedPp(a.lowerLimit)}` }] : []),
  ];
  const missing = cases.filter((c) => c.expert === null || c.model === null).map((c) => c.case);
  const phrases = efAgreementPhrases(a);
  const title = 'Model vs expert: ejection fraction (Bland–Altman)';
  const caption =
    `One point per patient, labelled with its case id: x is the mean of the model's and the expert's EF (%), y the model's EF minus the expert's (percentage points, pp). ` +
    `Solid red line: the bias (mean difference); dashed: the 95 % limits of agreement (bias ± 1.96 SD); grey: no difference. ${phrases.join(', ')}.` +
    (missing.length ? ` Not plotted (no EF from the expert's or the model's masks): ${missing.join(', ')}.` : '');
  const lineColor = '#b91c1c';
  // Fixed domains (points, lines and 0 inside, in steps of 5), so the label placement knows where everything lands.
  const [width, height] = [560, 320];
  const xDomain = steppedDomain(points.map((p) => p.meanPct), 3, 5, [0, 100]);
  const yDomain = steppedDomain([0, ...points.map((p) => p.differencePp), ...lines.map((l) => l.value)], 1, 5, [-5, 5]);
  const labels = placePointLabels(points.map((p) => ({ x: p.meanPct, y: p.differencePp, text: p.case })), { width, height, x: xDomain, y: yDomain });
  const labelled = points.map((p, i) => ({ ...p, ...labels[i] }));
  const xOf = (field: string) => ({ field, type: 'quantitative' as const, title: 'mean of model and expert EF (%)', scale: { domain: xDomain, nice: false } });
  // Every layer titles its y the same, or vega-lite joins the field names of the layers into the axis title.
  const yOf = (field: string) => ({ field, type: 'quantitative' as const, title: 'model − expert EF (percentage points)', scale: { domain: yDomain, nice: false } });
  const [x, y] = [xOf('meanPct'), yOf('differencePp')];
  const subtitle = [...(opts.context ? [opts.context] : []), phrases.slice(0, 3).join(' · '), ...(phrases.length > 3 ? [phrases.slice(3).join(' · ')] : [])];
  return {
    id: 'ef-bland-altman',
    title,
    caption,
    spec: {
      ...base('Bland–Altman scatter plot: model minus expert ejection fraction against their mean, one point per patient, with the bias and limits of agreement as horizontal lines'),
      title: { text: title, subtitle, anchor: 'start', fontSize: 14, color: '#1a1a1a', subtitleFontSize: 11.5, subtitleColor: '#262626', subtitlePadding: 4, offset: 12 },
      width,
      height,
      layer: [
        { data: { values: [{ zero: 0 }] }, mark: { type: 'rule', color: '#9ca3af', strokeWidth: 1 }, encoding: { y: yOf('zero') } },
        {
          data: { values: lines },
          layer: [
            {
              mark: { type: 'rule', color: lineColor, strokeWidth: 1.5 },
              encoding: { y: yOf('value'), strokeDash: { field: 'line', type: 'nominal', scale: { domain: ['bias', 'limit'], range: [[1, 0], [6, 4]] }, legend: null } },
            },
            {
              // Beside the plot, right of the lines' ends, where no point can cover them.
              mark: { type: 'text', align: 'left', baseline: 'middle', dx: 6, fontSize: 11, color: lineColor, fontWeight: 600 },
              encoding: { x: { value: 'width' }, y: yOf('value'), text: { field: 'label' } },
            },
          ],
        },
        {
          data: { values: labelled },
          layer: [
            {
              mark: { type: 'circle', size: 64, color: '#1f5fa8', opacity: 0.9, stroke: 'white', strokeWidth: 0.8 },
              encoding: {
                x,
                y,
                tooltip: [
                  { field: 'case', title: 'case' },
                  { field: 'expertPct', title: 'expert EF %', format: '.1f' },
                  { field: 'modelPct', title: 'model EF %', format: '.1f' },
                  { field: 'differencePp', title: 'model − expert (pp)', format: '+.1f' },
                ],
              },
            },
            ...(['left', 'right', 'center'] as const).map((align) => ({
              transform: [{ filter: `datum.align === '${align}'` }],
              mark: { type: 'text' as const, align, baseline: 'middle' as const, fontSize: 9.5, color: '#374151' },
              encoding: { x: xOf('labelX'), y: yOf('labelY'), text: { field: 'case' } },
            })),
          ],
        },
      ],
    } as TopLevelSpec,
  };
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

/** Renders a vega-lite spec to an SVG string (vega View, renderer 'none'), labelled as an image with `label`. */
export async function renderChartSvg(spec: TopLevelSpec, label: string): Promise<string> {
  // A copy: vega tags the data objects it is given (a vega_id symbol), and the spec's data are the report's own arrays.
  const view = new View(parse(compile(structuredClone(spec)).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    // The figure's caption carries the meaning; the SVG gets one accessible name instead of vega's per-mark roles.
    return svg.replace(/^<svg /, `<svg role="img" aria-label="${escapeAttr(label)}" `);
  } finally {
    view.finalize();
  }
}
