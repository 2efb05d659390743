import { INTENSITY_GRID_AXES, efBlandAltmanChart, intensityPerCaseChart, placePointLabels, renderChartSvg } from './charts';

describe('renderChartSvg', () => {
  it('renders a vega-lite spec to an SVG labelled as one image, one mark per datum, without touching the data', async () => {
    const values = [
      { split: 'train', images: 260 },
      { split: 'val', images: 266 },
      { split: 'test', images: 0 },
    ];
    const svg = await renderChartSvg(
      { data: { values }, mark: 'bar', encoding: { x: { field: 'split', type: 'nominal' }, y: { field: 'images', type: 'quantitative' } } },
      'Images per split <"quoted">',
    );
    expect(svg.startsWith('<svg role="img" aria-label="Images per split &lt;&quot;quoted&quot;>" ')).toBe(true);
    const marks = /<g class="mark-rect role-mark[^"]*"[^>]*>(.*?)<\/g>/.exec(svg);
    expect(marks?.[1].match(/<path /g)).toHaveLength(3);
    expect(values.every((v) => Object.getOwnPropertySymbols(v).length === 0)).toBe(true);
  });
});

/** The elements of one vega mark group of an SVG (`kind` e.g. `symbol`, `text`, `rule`; `layer` its vega-lite layer path). */
function markElements(svg: string, kind: string, layer: string): string[] {
  // An empty group is self-closing (`<g …/>`).
  const group = new RegExp(`<g class="mark-${kind} role-mark ${layer}_marks"[^>]*?(?:/>|>(.*?)</g>)`).exec(svg);
  return group ? ((group[1] ?? '').match(/<(path|text|line)[^>]*>(?:[^<]*<\/text>)?/g) ?? []) : [];
}
const translateY = (el: string) => Number(/translate\([^,]+,([^)]+)\)/.exec(el)?.[1]);

describe('efBlandAltmanChart', () => {
  // EF fractions: differences (model − expert) +10, −2 and +2 pp → bias +3.3 pp; D has no expert EF.
  const cases = [
    { case: 'A', expert: 0.5, model: 0.6 },
    { case: 'B', expert: 0.4, model: 0.38 },
    { case: 'C', expert: 0.6, model: 0.62 },
    { case: 'D', expert: null, model: 0.5 },
  ];

  it('plots one labelled point per patient with both EFs, and the bias and limits of agreement as lines', async () => {
    const chart = efBlandAltmanChart(cases, { context: 'model v1 · split val' });
    expect(chart.id).toBe('ef-bland-altman');
    expect(chart.caption).toContain('n = 3 of 4 patients, bias +3.3 pp, SD 6.1 pp');
    expect(chart.caption).toContain('Not plotted (no EF from the expert\'s or the model\'s masks): D.');
    const svg = await renderChartSvg(chart.spec, chart.title);
    expect(markElements(svg, 'symbol', 'layer_2_layer_0')).toHaveLength(3);
    // Labels sit in one text layer per alignment (left, right, centred).
    const labels = ['layer_2_layer_1', 'layer_2_layer_2', 'layer_2_layer_3'].flatMap((l) => markElements(svg, 'text', l).map((t) => />([^<]*)<\/text>/.exec(t)?.[1]));
    expect(labels.sort()).toEqual(['A', 'B', 'C']);
    // Bias, upper and lower limit, in that order; on screen the upper limit is highest (smallest y), the lower lowest.
    const lines = markElements(svg, 'rule', 'layer_1_layer_0');
    expect(lines).toHaveLength(3);
    const [bias, upper, lower] = lines.map(translateY);
    expect(upper).toBeLessThan(bias);
    expect(bias).toBeLessThan(lower);
    expect(lines[0]).toContain('stroke-dasharray="1,0"');
    expect(lines[1]).toContain('stroke-dasharray="6,4"');
    expect(markElements(svg, 'text', 'layer_1_layer_1').map((t) => />([^<]*)<\/text>/.exec(t)?.[1])).toEqual(['bias +3.3', '+1.96 SD: +15.3', '−1.96 SD: −8.6']);
    // The figures are in the SVG itself (it is written alone by lvseg eval --plot).
    expect(svg).toContain('model v1 · split val');
    expect(svg).toContain('limits of agreement −8.6 to +15.3 pp · Pearson r 0.901');
  });

  it('renders without limits for one patient and without points for none', async () => {
    const one = efBlandAltmanChart([cases[0], cases[3]]);
    expect(one.caption).toContain('n = 1 of 2 patients, bias +10.0 pp, SD, limits and r need 2 patients');
    const oneSvg = await renderChartSvg(one.spec, one.title);
    expect(markElements(oneSvg, 'symbol', 'layer_2_layer_0')).toHaveLength(1);
    expect(markElements(oneSvg, 'rule', 'layer_1_layer_0')).toHaveLength(1);
    const none = efBlandAltmanChart([cases[3]]);
    expect(none.caption).toContain('n = 0 of 1 patients: no patient has both an expert and a model EF');
    expect(markElements(await renderChartSvg(none.spec, none.title), 'symbol', 'layer_2_layer_0')).toHaveLength(0);
  });
});

describe('placePointLabels', () => {
  // A 100 × 100 px frame over 0..10 × 0..10: one data unit is 10 px (y up).
  const frame = { width: 100, height: 100, x: [0, 10] as [number, number], y: [0, 10] as [number, number] };
  const font = { charWidth: 5, height: 10, gap: 5, radius: 3 };

  it('puts a label right of its point unless that covers a point, a label or the frame edge; then left, then above', () => {
    // Pixels: A at 20, B at 40, C at 55 (all at y 50 px), EDGE at (95, 80); point boxes ±3 px, labels 20 × 10 px.
    const [a, b, edge, c] = placePointLabels(
      [
        { x: 2, y: 5, text: 'AAAA' }, // right (25–45) covers B's point; left (−5–15) leaves the frame → above (10–30, y 35–45)
        { x: 4, y: 5, text: 'BBBB' }, // right (45–65) covers C's point, left (15–35) A's point → above (30–50), clear of A's label
        { x: 9.5, y: 2, text: 'EDGE' }, // right leaves the frame → left (70–90)
        { x: 5.5, y: 5, text: 'CCCC' }, // right (60–80) is free
      ],
      frame,
      font,
    );
    expect(a).toEqual({ labelX: 2, labelY: 6, align: 'center' });
    expect(b).toEqual({ labelX: 4, labelY: 6, align: 'center' });
    expect(edge).toEqual({ labelX: 9, labelY: 2, align: 'right' });
    expect(c).toEqual({ labelX: expect.closeTo(6, 12), labelY: 5, align: 'left' });
  });
});

describe('intensityPerCaseChart', () => {
  it('says its axis titles once above the grid, not in every cell, and still labels the ticks', async () => {
    const cases = Array.from({ length: 14 }, (_, i) => `C${i}`);
    const binStarts = [0, 0.25, 0.5, 0.75];
    const perCase = cases.map((c, k) => ({ case: c, split: k < 7 ? 'train' : 'val', fractions: [0.4, 0.3, 0.2, 0.1] }));
    const chart = intensityPerCaseChart(perCase, binStarts, 0.25, cases, { field: 'split', type: 'nominal' });
    const svg = await renderChartSvg(chart.spec, chart.title);
    const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1].replace(/&#x2019;|&#8217;/g, '’'));
    // 14 cases in rows of 6: 3 rows, so a per-cell title would show 3 times (y) and 6 times (x).
    expect(texts.filter((t) => t === INTENSITY_GRID_AXES.x)).toHaveLength(1);
    expect(texts.filter((t) => t === INTENSITY_GRID_AXES.y)).toHaveLength(1);
    expect(svg).not.toMatch(/role-axis-title/);
    expect(texts.filter((t) => cases.includes(t)).sort()).toEqual([...cases].sort());
    expect(texts).toEqual(expect.arrayContaining(['0', '0.5', '1', '0%']));
    expect(chart.caption).toContain(INTENSITY_GRID_AXES.y);
  });
});
