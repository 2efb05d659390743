/**
 * What the heat-map colours mean: a colour key (the jet map as a bar, its ends numbered) and the pure helpers behind it.
 * No DOM here, so the spec checks the key against the colour map the server paints with.
 */
import { jetColor } from '@lvseg/model/explain/colormap';

/** Where jet's channels bend (it is piecewise linear between these): a CSS gradient through them is jet exactly. */
export const JET_BREAKS = [0, 1 / 8, 3 / 8, 5 / 8, 7 / 8, 1] as const;

/** `linear-gradient(to right, …)` of the jet colour map from 0 (left) to 1 (right). */
export function jetGradientCss(): string {
  const stops = JET_BREAKS.map((t) => `rgb(${jetColor(t).join(', ')}) ${+(t * 100).toFixed(3)}%`);
  return `linear-gradient(to right, ${stops.join(', ')})`;
}

/** The two kinds of picture the viewer shows, each scaled its own way by the server (see HeatmapDto and GradCamDto). */
export type HeatmapKind = 'activation' | 'gradcam';

export interface ColourKeyText {
  /** The key's heading. */
  title: string;
  /** Tick labels under the bar, left to right (0, ½, 1 of the scaled value). */
  ticks: [string, string, string];
  /** What the two ends mean, and how the overlay uses the value. */
  low: string;
  high: string;
}

/** The words and numbers of each kind's key. */
export function colourKeyText(kind: HeatmapKind): ColourKeyText {
  const overlay = 'Over the image, the colour’s opacity grows with the value: low values let the anatomy show through.';
  return kind === 'gradcam'
    ? {
        title: 'Colour key: Grad-CAM, scaled to its maximum in this image',
        ticks: ['0', '0.5', '1'],
        low: '0 (dark blue): no evidence for the LV class at this layer (negative evidence is cut to 0).',
        high: `1 (dark red): the strongest evidence for the LV class in this image. ${overlay}`,
      }
    : {
        title: 'Colour key: channel-mean activation, min–max scaled per layer and image',
        ticks: ['0', '0.5', '1'],
        low: '0 (dark blue): the layer’s lowest mean activation in this image.',
        high: `1 (dark red): its highest; colours compare places within one picture, not across layers. ${overlay}`,
      };
}
