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
      /** Keyword → its tag "(gggg,eeee)" and VR. */
      nameMap: Record<string, { tag: string; vr: string } | undefined>;
    };
    /** A stream over bytes, read by the value representations (strings through its decoder: the character set). */
    class ReadBufferStream {
      constructor(buffer: ArrayBuffer, littleEndian: boolean);
      setDecoder(decoder: { decode(input: Uint8Array): string }): void;
    }
    /** How dcmjs reads one value representation (padding, numbers, person names, character set). */
    interface ValueRepresentationReader {
      type: string;
      maxLength: number | null;
      noMultiple?: boolean;
      isBinary(): boolean;
      read(stream: ReadBufferStream, length: number, syntax: string): { value: unknown } | undefined;
      dropPadByte(values: string[]): string[];
    }
    const ValueRepresentation: { createByTypeString(vr: string): ValueRepresentationReader };
  }
  export namespace constants {
    /** SpecificCharacterSet term (lower case, "_"/" " → "-") → TextDecoder label, as dcmjs decodes strings. */
    const encodingMapping: Record<string, string>;
  }
}
