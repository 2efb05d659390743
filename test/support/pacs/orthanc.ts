/**
 * A real Orthanc for tests: the launcher shared with the benchmarks (services/inference/bench/support/orthanc.ts),
 * started from the repository's deploy/orthanc/orthanc.json and lvseg-webhook.lua with only ports, folders and paths
 * rendered, plus the rule for the PACS tests: skip with the reason printed when a tool is missing, fail under CI=true.
 */
import { spawnSync } from 'node:child_process';
import { dicomWebPlugin, orthancBinary } from '../../../services/inference/bench/support/orthanc';

export type { OrthancOptions, RunningOrthanc } from '../../../services/inference/bench/support/orthanc';
export { ORTHANC_CONFIG, ORTHANC_LUA, startOrthanc } from '../../../services/inference/bench/support/orthanc';
export { freePort } from '../../../services/inference/bench/support/free-port';

/** Why the PACS tests cannot run here (Orthanc, its DICOMweb plugin or dcmtk missing), or undefined. */
export function pacsToolsMissingReason(): string | undefined {
  const missing: string[] = [];
  if (!orthancBinary()) missing.push('Orthanc');
  if (!dicomWebPlugin()) missing.push('the Orthanc DICOMweb plugin');
  if (spawnSync('storescu', ['--version'], { stdio: 'ignore' }).status !== 0) missing.push('dcmtk (storescu)');
  const reason = missing.length ? `${missing.join(', ')} not installed (apt-get install -y orthanc orthanc-dicomweb dcmtk)` : undefined;
  // scripts/test.sh installs them: under CI their absence means the install step broke, a failure rather than a skip.
  if (reason && process.env.CI === 'true') throw new Error(`the PACS tests need Orthanc and dcmtk under CI: ${reason}`);
  return reason;
}
