import type { DicomMeta } from '@lvseg/imaging';

export const MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4';

/** Why a series is not segmented (a stable code and a sentence for the job result). */
export interface SkipReason {
  code: string;
  message: string;
}

const LONG_AXIS = /(\b|_)([234]\s*-?\s*ch(amber)?|lax|long[\s_-]*axis|lvot|vla|hla)(\b|_)/i;
const SHORT_AXIS = /(\b|_)(sa|sax|short[\s_-]*axis|sa[\s_-]*stack)(\b|_)/i;
/** cos 15°: a slice normal closer than 15° to a patient axis is an axial, coronal or sagittal plane. */
const STANDARD_PLANE_COS = Math.cos((15 * Math.PI) / 180);
/** cos 5°: slices of one stack are parallel. */
const PARALLEL_COS = Math.cos((5 * Math.PI) / 180);

function normal(iop: number[]): [number, number, number] {
  const [r0, r1, r2, c0, c1, c2] = iop;
  const n: [number, number, number] = [r1 * c2 - r2 * c1, r2 * c0 - r0 * c2, r0 * c1 - r1 * c0];
  const len = Math.hypot(...n) || 1;
  return [n[0] / len, n[1] / len, n[2] / len];
}

/**
 * Is this an MR short-axis series lvseg can segment? Modality MR, single-frame MR Image Storage, and a short-axis
 * geometry: DICOM has no "view" attribute, so the check is (1) a series description naming a long-axis view refuses,
 * (2) every slice is parallel (a stack, not radial long-axis planes), (3) the planes are oblique — a cardiac short
 * axis is never an axial, coronal or sagittal plane — unless the description says short axis. Returns undefined when
 * the series passes, else why not.
 */
export function shortAxisSkipReason(images: DicomMeta[]): SkipReason | undefined {
  if (images.length === 0) return { code: 'NO_IMAGES', message: 'the series has no decodable image' };
  const modalities = [...new Set(images.map((m) => m.modality ?? '(none)'))];
  if (modalities.some((m) => m !== 'MR')) return { code: 'NOT_MR', message: `the series modality is ${modalities.join(', ')}, not MR: lvseg segments cardiac MR only` };
  const classes = [...new Set(images.map((m) => m.sopClassUid ?? '(none)'))];
  if (classes.some((c) => c !== MR_IMAGE_STORAGE)) {
    return { code: 'UNSUPPORTED_SOP_CLASS', message: `the series holds SOP class ${classes.join(', ')}; lvseg reads single-frame MR Image Storage (${MR_IMAGE_STORAGE})` };
  }
  const descriptions = [...new Set(images.map((m) => m.seriesDescription?.trim() ?? '').filter((d) => d !== ''))];
  const saysLongAxis = descriptions.some((d) => LONG_AXIS.test(d));
  const saysShortAxis = descriptions.some((d) => SHORT_AXIS.test(d));
  if (saysLongAxis && !saysShortAxis) return { code: 'NOT_SHORT_AXIS', message: 'the series description names a long-axis view' };
  const orientations = images.map((m) => m.imageOrientationPatient);
  if (orientations.some((o) => !o)) {
    if (saysShortAxis) return undefined;
    return { code: 'NOT_SHORT_AXIS', message: 'the images have no ImageOrientationPatient, so the view cannot be checked' };
  }
  const normals = orientations.map((o) => normal(o!));
  const n0 = normals[0];
  if (normals.some((n) => Math.abs(n[0] * n0[0] + n[1] * n0[1] + n[2] * n0[2]) < PARALLEL_COS)) {
    return { code: 'NOT_SHORT_AXIS', message: 'the slices are not parallel (radial or mixed planes, as long-axis series are)' };
  }
  if (!saysShortAxis && Math.max(...n0.map(Math.abs)) > STANDARD_PLANE_COS) {
    return { code: 'NOT_SHORT_AXIS', message: 'the slices are axial, coronal or sagittal planes; a cardiac short axis is oblique' };
  }
  return undefined;
}
