import { LvsegError } from '@lvseg/common';
import type { LvsegConfig } from '@lvseg/config';
import { folderSource } from '../dataset-import/folder-source';
import { dicomWebSource } from '../dataset-import/dicomweb-source';
import { DEFAULT_LV_SELECTION, ImportSummary, LvSelection, formatImportSummary, importDataset } from '../dataset-import/import-dataset';
import { assertSiteSecret } from '../dataset-import/pseudonym';

export interface DatasetImportCommandOptions {
  from?: string;
  fromPacs?: string;
  out: string;
  lvLabel?: string[];
  lvCode?: string[];
  siteSecret?: string;
  includeLvsegUnreviewed?: boolean;
  valFraction?: number;
}

/**
 * `lvseg dataset import`: returns the summary and its printable form. `settings` (`config.datasetImport`) give the site
 * secret (LVSEG_SITE_SECRET) when `--site-secret` does not, and the PACS's HTTP Basic credentials (PACS_USERNAME, PACS_PASSWORD).
 */
export async function runDatasetImport(o: DatasetImportCommandOptions, settings: LvsegConfig['datasetImport'], log: (line: string) => void = () => undefined): Promise<{ summary: ImportSummary; text: string }> {
  if (!o.from === !o.fromPacs) throw new LvsegError('invalid-input', 'IMPORT_SOURCE', 'give exactly one of --from <folder> or --from-pacs <dicomweb-url>');
  const siteSecret = o.siteSecret ?? settings.siteSecret;
  assertSiteSecret(siteSecret);
  const lv: LvSelection = {
    labels: o.lvLabel?.length ? o.lvLabel : DEFAULT_LV_SELECTION.labels,
    codes: o.lvCode?.length ? o.lvCode : DEFAULT_LV_SELECTION.codes,
  };
  const source = o.from ? folderSource(o.from) : dicomWebSource(o.fromPacs!, { credentials: settings.pacsCredentials });
  const summary = await importDataset(source, { out: o.out, siteSecret, lv, includeLvsegUnreviewed: o.includeLvsegUnreviewed, valFraction: o.valFraction, log });
  return { summary, text: formatImportSummary(summary) };
}
