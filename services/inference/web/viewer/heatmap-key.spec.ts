import { jetColor } from '@lvseg/model/explain/colormap';
import { JET_BREAKS, colourKeyText, jetGradientCss } from './heatmap-key';

/** The colour a CSS linear gradient through `stops` shows at t (linear between neighbouring stops). */
function gradientAt(stops: Array<{ at: number; rgb: number[] }>, t: number): number[] {
  const k = Math.max(1, stops.findIndex((s) => s.at >= t));
  const [a, b] = [stops[k - 1], stops[k]];
  const f = b.at === a.at ? 0 : (t - a.at) / (b.at - a.at);
  return a.rgb.map((v, i) => v + f * (b.rgb[i] - v));
}

describe('jetGradientCss', () => {
  it('draws the very colour map the server paints with: the gradient matches jetColor everywhere to a rounding step', () => {
    const css = jetGradientCss();
    const stops = [...css.matchAll(/rgb\((\d+), (\d+), (\d+)\) ([\d.]+)%/g)].map((m) => ({ at: Number(m[4]) / 100, rgb: [m[1], m[2], m[3]].map(Number) }));
    expect(stops.map((s) => s.at)).toEqual(JET_BREAKS.map((t) => +t.toFixed(5)));
    expect(stops[0].rgb).toEqual([0, 0, 128]);
    expect(stops[stops.length - 1].rgb).toEqual([128, 0, 0]);
    for (let i = 0; i <= 200; i++) {
      const t = i / 200;
      const want = jetColor(t);
      gradientAt(stops, t).forEach((v, c) => expect(Math.abs(v - want[c])).toBeLessThanOrEqual(1));
    }
  });
});

describe('colourKeyText', () => {
  it('numbers both ends of each kind and says how each is scaled', () => {
    for (const kind of ['activation', 'gradcam'] as const) {
      const key = colourKeyText(kind);
      expect(key.ticks).toEqual(['0', '0.5', '1']);
      expect(key.low.startsWith('0 ')).toBe(true);
      expect(key.high.startsWith('1 ')).toBe(true);
    }
    expect(colourKeyText('gradcam').title).toContain('maximum');
    expect(colourKeyText('activation').title).toContain('min–max');
  });
});
