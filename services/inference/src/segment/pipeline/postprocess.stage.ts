/**
 * Stage 4, postprocess: what an answer says about a segmented image — its mask as a PNG, the LV area (pixels, mm²),
 * the cascade's ROI, Dice/Jaccard/pixel accuracy against a label, and heat maps / Grad-CAM rendered over the image.
 * Pure functions of the engine's output; the pipeline times them.
 */
import type { BinaryMask, GrayImage } from '@lvseg/imaging';
import { countLvPixels, encodeMaskPng } from '@lvseg/imaging';
import { GradCamMap, LayerMap, confusion, diceFromConfusion, jaccardFromConfusion, pixelAccuracyFromConfusion, renderHeatmap } from '@lvseg/model';
import type { ImageSegmentation } from '../../engine/segmentation-engine';
import type { GradCamDto, HeatmapDto, LabelMetricsDto, LvAreaDto, MaskDto, RoiDto } from '../dto/segment-response.dto';

/** An expert label read at the image's size (segment-request.ts `readLabel`). */
export interface Label {
  kind: 'png' | 'contour';
  mask: BinaryMask;
}

/** LV area in pixels and, when the pixel spacing is known, in mm². */
export function lvAreaOf(mask: BinaryMask, image: GrayImage): LvAreaDto {
  const pixels = countLvPixels(mask);
  const spacing = image.pixelSpacingMm;
  if (!spacing) return { pixels, mm2: null, reason: 'the DICOM has no PixelSpacing (0028,0030) or ImagerPixelSpacing (0018,1164)' };
  return { pixels, mm2: pixels * spacing[0] * spacing[1] };
}

/** Dice, Jaccard and pixel accuracy of the mask against a label, and the label's LV pixels. */
export function labelMetricsOf(mask: BinaryMask, truth: BinaryMask, kind: 'png' | 'contour'): LabelMetricsDto {
  const c = confusion(mask, truth);
  return { kind, dice: diceFromConfusion(c), jaccard: jaccardFromConfusion(c), pixelAccuracy: pixelAccuracyFromConfusion(c), labelPixels: c.tp + c.fn };
}

/** The ROI a cascade segmented, rounded for JSON; null for whole-image models or when no LV was found. */
export function roiDtoOf(seg: ImageSegmentation): RoiDto | null {
  if (!seg.roi || !seg.roiSource) return null;
  const r2 = (v: number) => Math.round(v * 100) / 100;
  return { centerRow: r2(seg.roi.centerRow), centerColumn: r2(seg.roi.centerColumn), height: r2(seg.roi.height), width: r2(seg.roi.width), source: seg.roiSource, secondLook: seg.zoomed === true };
}

/** The mask as an answer carries it: a base64 PNG (0/255) at the image's own size. */
export function maskDtoOf(mask: BinaryMask): MaskDto {
  return { png: encodeMaskPng(mask).toString('base64'), rows: mask.rows, columns: mask.columns };
}

/** One activation map rendered over the image (colour map and overlay, base64 PNGs). */
export function heatmapDtoOf(map: LayerMap, image: GrayImage): HeatmapDto {
  const r = renderHeatmap(map, image);
  return { layer: map.layer, layerShape: [map.rows, map.columns, map.channels], png: r.png.toString('base64'), overlayPng: r.overlayPng.toString('base64') };
}

/** A Grad-CAM map rendered over the image (zero-based colour scale). */
export function gradCamDtoOf(cam: GradCamMap, image: GrayImage): GradCamDto {
  const r = renderHeatmap(cam, image, { zeroBased: true });
  return { layer: cam.layer, layerShape: [cam.rows, cam.columns, cam.channels], region: cam.region, png: r.png.toString('base64'), overlayPng: r.overlayPng.toString('base64') };
}
