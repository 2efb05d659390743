/**
 * Stage 1, decode: DICOM bytes → an image and its metadata (libs/imaging), and whether this service segments it.
 * The one check of the image's size against `LVSEG_MAX_IMAGE_SIDE` lives here, for every entry point.
 */
import { LvsegError } from '@lvseg/common';
import { DicomImage, GrayImage, decodeDicomImage } from '@lvseg/imaging';

/** The refusal of an image with a side over `maxSide` (413, IMAGE_TOO_LARGE), or undefined when it fits. */
export function imageTooLarge(image: Pick<GrayImage, 'rows' | 'columns'>, maxSide: number): LvsegError | undefined {
  if (image.rows <= maxSide && image.columns <= maxSide) return undefined;
  return new LvsegError('too-large', 'IMAGE_TOO_LARGE', `the image is ${image.columns}×${image.rows}; this service takes images up to ${maxSide}×${maxSide}`, {
    rows: image.rows,
    columns: image.columns,
  });
}

/** Refuses an image this service does not segment: a side over `maxSide` (413), or NaN/infinite pixels (422). */
export function assertServableImage(image: GrayImage, maxSide: number): void {
  const tooLarge = imageTooLarge(image, maxSide);
  if (tooLarge) throw tooLarge;
  const data = image.data; // a local: no per-pixel property lookup
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new LvsegError('invalid-input', 'DICOM_NON_FINITE_PIXELS', 'the image has NaN or infinite pixel values');
  }
}

/** Decodes one DICOM and refuses it (typed LvsegError) when it is not an image this service segments. */
export async function decodeServableImage(bytes: Buffer, maxSide: number): Promise<DicomImage> {
  const decoded = await decodeDicomImage(bytes);
  assertServableImage(decoded.image, maxSide);
  return decoded;
}
