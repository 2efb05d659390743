import { renderChartSvg } from './charts';

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
