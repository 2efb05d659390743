/** The small part of dcmjs (no bundled types) that lvseg uses: reading and writing Part 10 files (SEG, SR, RTSTRUCT). */
declare module 'dcmjs' {
  /** A dataset in dcmjs's "naturalized" form: keyword → value (sequences are arrays of datasets). */
  export type NaturalDataset = Record<string, unknown> & { _vrMap?: Record<string, string>; _meta?: unknown };
  /** Tag (hex "ggggeeee") → { vr, Value }. */
  export type DenaturalizedDataset = Record<string, { vr: string; Value?: unknown[] }>;

  export namespace data {
    class DicomDict {
      constructor(meta: DenaturalizedDataset);
      meta: DenaturalizedDataset;
      dict: DenaturalizedDataset;
      write(options?: { allowInvalidVRLength?: boolean; fragmentMultiframe?: boolean }): ArrayBuffer;
    }
    const DicomMessage: {
      readFile(buffer: ArrayBuffer, options?: { ignoreErrors?: boolean; untilTag?: string; includeUntilTagValue?: boolean }): DicomDict;
    };
    const DicomMetaDictionary: {
      naturalizeDataset(dataset: DenaturalizedDataset): NaturalDataset;
      denaturalizeDataset(dataset: NaturalDataset): DenaturalizedDataset;
    };
  }
}
