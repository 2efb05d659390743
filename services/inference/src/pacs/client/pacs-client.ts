/** A series, named by DICOM UIDs (what DICOMweb speaks). */
export interface SeriesRef {
  studyInstanceUid: string;
  seriesInstanceUid: string;
}

export interface PacsSeriesStatus {
  /** False when the PACS does not (or no longer) hold the series. */
  exists: boolean;
  /** No instance arrived for a while (Orthanc: `IsStable`): the series is complete as far as the PACS knows. */
  complete: boolean;
  modality?: string;
  instanceCount?: number;
}

export interface PacsStoreResult {
  /** SOP Instance UIDs the PACS confirmed. */
  stored: string[];
  failed: Array<{ sopInstanceUid?: string; reason?: number }>;
}

/**
 * What lvseg needs from a PACS: look up, fetch and store DICOM objects. The Orthanc implementation uses DICOMweb
 * (QIDO-RS, WADO-RS, STOW-RS) and Orthanc's REST API only for what DICOMweb has no word for (series completeness).
 */
export interface PacsClient {
  /** QIDO-RS: does the study hold a series with this UID? */
  seriesExists(studyInstanceUid: string, seriesInstanceUid: string): Promise<boolean>;
  /** Whether a source series exists, is complete, and its modality. */
  seriesStatus(ref: SeriesRef): Promise<PacsSeriesStatus>;
  /** WADO-RS: every instance of the series, as DICOM Part 10 bytes in the transfer syntax the PACS stored (compressed or not). */
  retrieveSeries(ref: SeriesRef): Promise<Buffer[]>;
  /** STOW-RS: stores instances into the study. */
  store(studyInstanceUid: string, instances: Buffer[]): Promise<PacsStoreResult>;
  /** Resolves when the PACS answers and accepts lvseg's credentials within `timeoutMs`; throws the LvsegError otherwise. */
  checkAccess(timeoutMs: number): Promise<void>;
}

/** One entry of the PACS's durable change log. */
export interface PacsChange {
  seq: number;
  /** Orthanc ChangeType, e.g. NewSeries, StableSeries, NewInstance. */
  type: string;
  /** Orthanc ResourceType: Patient, Study, Series, Instance. */
  resourceType: string;
  /** The PACS's own id of the resource. */
  pacsId: string;
}

/** The PACS's change log (Orthanc `GET /changes`), read from a cursor: the source of truth behind the webhooks. */
export interface PacsChangeFeed {
  /** Sequence number of the newest change (where a follower without a cursor starts). */
  latestSeq(): Promise<number>;
  /** Changes after `since`, at most `limit`; `last` is the cursor to continue from, `done` when nothing more is waiting. */
  changes(since: number, limit: number): Promise<{ changes: PacsChange[]; last: number; done: boolean }>;
  /** The series a Series change is about, or undefined when it was deleted since. */
  seriesOfChange(change: PacsChange): Promise<(SeriesRef & { modality?: string }) | undefined>;
}
