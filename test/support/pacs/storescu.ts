/** Sending DICOM files to the PACS with dcmtk's storescu (C-STORE over the DICOM network protocol, as a scanner does). */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { RunningOrthanc } from './orthanc';

const run = promisify(execFile);

/**
 * Sends `files` in one association from the scanner AE title the PACS knows; resolves with the elapsed ms. `options`
 * go before the files, e.g. `-xv` to propose JPEG 2000 lossless for compressed files (storescu proposes uncompressed
 * transfer syntaxes only by default).
 */
export async function storescu(orthanc: RunningOrthanc, files: string[], callingAet = orthanc.callingAet, options: string[] = []): Promise<number> {
  const started = performance.now();
  await run('storescu', [...options, '-aet', callingAet, '-aec', orthanc.calledAet, '127.0.0.1', String(orthanc.dicomPort), ...files], { maxBuffer: 16 * 1024 * 1024 });
  return performance.now() - started;
}
