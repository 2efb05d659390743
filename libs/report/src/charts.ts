/**
 * The report's charts: vega-lite specs compiled to vega and rendered to SVG in Node (a headless `View`), so the page
 * needs no script and no network.
 */
import { parse, View } from 'vega';
import { compile, TopLevelSpec } from 'vega-lite';
import { DataReport } from './data-report';

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
  charts.push({
    id: 'intensity-per-case',
    title: 'Model-input intensities per case',
    caption: `Histogram of normalize() output (the model's input, 0 to 1, ${r.intensity.binStarts.length} bins) over all pixels of each case. The bar at 0 is the dark background outside the body; the square-root scale keeps the rest visible.`,
    spec: {
      ...base('Small multiples: histogram of normalised pixel intensity for each case'),
      data: {
        values: r.intensity.perCase.flatMap((c) => c.fractions.map((f, i) => ({ case: c.case, split: c.split, start: r.intensity.binStarts[i], end: r.intensity.binStarts[i] + w, share: f }))),
      },
      facet: { field: 'case', type: 'nominal', sort: caseOrder, title: null, header: { labelFontSize: 11 } },
      columns: 6,
      spec: {
        width: 120,
        height: 60,
        mark: { type: 'bar' },
        encoding: {
          x: { field: 'start', type: 'quantitative', bin: { binned: true }, title: 'normalised intensity', axis: { tickCount: 2, labelFontSize: 9 } },
          x2: { field: 'end' },
          y: { field: 'share', type: 'quantitative', title: 'share of pixels', scale: { type: 'sqrt' }, axis: { tickCount: 2, format: '.0%', labelFontSize: 9 } },
          color,
        },
      },
    } as TopLevelSpec,
  });

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
  return charts;
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
