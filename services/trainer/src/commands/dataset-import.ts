import { LvsegError } from '@lvseg/common';
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
 * Settings `lvseg dataset import` takes from the environment when no flag gives them: the site secret
 * (`LVSEG_SITE_SECRET`) and the PACS's HTTP Basic credentials (`PACS_USERNAME`, `PACS_PASSWORD`, as the service).
 */
export function datasetImportEnv(env: NodeJS.ProcessEnv = process.env): { siteSecret?: string; credentials?: { username: string; password: string } } {
  const username = env.PACS_USERNAME ?? '';
  const password = env.PACS_PASSWORD ?? '';
  if ((username === '') !== (password === '')) throw new LvsegError('config', 'CONFIG_PACS_CREDENTIALS', 'PACS_USERNAME and PACS_PASSWORD must be set together');
  return { siteSecret: env.LVSEG_SITE_SECRET || undefined, credentials: username ? { username, password } : undefined };
}

/** `lvseg dataset import`: returns the summary and its printable form. */
export async function runDatasetImport(o: DatasetImportCommandOptions, env: NodeJS.ProcessEnv = process.env, log: (line: string) => void = () => undefined): Promise<{ summary: ImportSummary; text: string }> {
  if (!o.from === !o.fromPacs) throw new LvsegError('invalid-input', 'IMPORT_SOURCE', 'give exactly one of --from <folder> or --from-pacs <dicomweb-url>');
  const e = datasetImportEnv(env);
  const siteSecret = o.siteSecret ?? e.siteSecret;
  assertSiteSecret(siteSecret);
  const lv: LvSelection = {
    labels: o.lvLabel?.length ? o.lvLabel : DEFAULT_LV_SELECTION.labels,
    codes: o.lvCode?.length ? o.lvCode : DEFAULT_LV_SELECTION.codes,
  };
  const source = o.from ? folderSource(o.from) : dicomWebSource(o.fromPacs!, { credentials: e.credentials });
  const summary = await importDataset(source, { out: o.out, siteSecret, lv, includeLvsegUnreviewed: o.includeLvsegUnreviewed, valFraction: o.valFraction, log });
  return { summary, text: formatImportSummary(summary) };
}
