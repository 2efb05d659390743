/** `lvseg report`: the pre-modelling data set report ("know the data before modelling"). */
import { LvsegError } from '@lvseg/common';
import { writeDataReport } from '@lvseg/report';

export interface ReportCommandOptions {
  data: string;
  out: string;
  examples?: number;
  phasesPerSlice?: number;
}

/** Writes the report and returns the one-line summary the CLI prints. */
export async function runReport(o: ReportCommandOptions): Promise<string> {
  if (!o.out) throw new LvsegError('invalid-input', 'REPORT_OUT_MISSING', '--out <dir> is required');
  const { report, htmlPath, jsonPath } = await writeDataReport({ dataDir: o.data, outDir: o.out, examplesPerSplit: o.examples, phasesPerSlice: o.phasesPerSlice });
  const im = report.imbalance;
  return (
    `${report.counts.images} images, ${report.counts.cases} cases; mean LV fraction ${(im.meanLvFraction * 100).toFixed(2)} %, ` +
    `all-background pixel accuracy ${(im.allBackgroundPixelAccuracy * 100).toFixed(1)} %; ` +
    `ED/ES/unknown ${report.phases.counts.ED}/${report.phases.counts.ES}/${report.phases.counts.unknown}; ` +
    `${(report.timingMs.total / 1000).toFixed(1)} s\n${htmlPath}\n${jsonPath}`
  );
}
