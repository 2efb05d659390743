/** Real DICOMs re-written by the test writer: resampled, tagged with fake patient data, and so on. */
import { decodeDicom, resizeBilinear } from '@lvseg/imaging';
import { DicomWriteOptions, writeDicom } from '../../libs/imaging/src/testing/dicom-writer';

/** The real image resampled (bilinear) to rows×columns, pixel spacing scaled so the field of view is unchanged. */
export function resampledDicom(real: Buffer, rows: number, columns: number, extra: Partial<DicomWriteOptions> = {}): Buffer {
  const { image, meta } = decodeDicom(real);
  const values = resizeBilinear(image.data, image.rows, image.columns, rows, columns);
  const spacing = meta.pixelSpacingMm;
  return Buffer.from(
    writeDicom({
      rows,
      columns,
      pixels: Array.from(values, (v) => Math.round(v)),
      bitsAllocated: 16,
      pixelRepresentation: 1,
      ...(spacing ? { pixelSpacing: [(spacing[0] * image.rows) / rows, (spacing[1] * image.columns) / columns] as [number, number] } : {}),
      sopInstanceUid: `${meta.sopInstanceUid ?? '2.25.1'}.${rows}.${columns}`,
      ...extra,
    }),
  );
}

/** The real image at its own size, re-written with the given options (e.g. patient tags, omitted tags). */
export function rewrittenDicom(real: Buffer, extra: Partial<DicomWriteOptions> = {}): Buffer {
  const { image, meta } = decodeDicom(real);
  return Buffer.from(
    writeDicom({
      rows: image.rows,
      columns: image.columns,
      pixels: Array.from(image.data, (v) => Math.round(v)),
      bitsAllocated: 16,
      pixelRepresentation: 1,
      ...(meta.pixelSpacingMm ? { pixelSpacing: meta.pixelSpacingMm } : {}),
      sopInstanceUid: meta.sopInstanceUid,
      ...extra,
    }),
  );
}
