import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PNG } from 'pngjs';
import { encodeGrayPng, encodeMaskPng } from '@lvseg/imaging';
import { DataReport } from './data-report';
import { writeDataReport } from './report';

const FIXTURES = join(__dirname, '..', '..', 'imaging', 'test-fixtures', 'sunnybrook');

/** LV pixels of a label PNG read with pngjs directly (first channel non-zero), independent of libs/imaging. */
function labelPixels(path: string): number {
  const png = PNG.sync.read(readFileSync(path));
  let n = 0;
  for (let i = 0; i < png.width * png.height; i++) if (png.data[i * 4] > 0) n++;
  return n;
}

function layout(files: Record<string, string>, manifest: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'lvseg-report-data-'));
  for (const [to, from] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, to)), { recursive: true });
    copyFileSync(join(FIXTURES, from), join(dir, to));
  }
  writeFileSync(join(dir, 'manifest.csv'), manifest);
  return dir;
}

describe('writeDataReport', () => {
  const temp: string[] = [];
  const tmp = (d: string) => (temp.push(d), d);
  afterAll(() => temp.forEach((d) => rmSync(d, { recursive: true, force: true })));

  const png01 = 'SC-HF-I-01-IM-0001-0048.png';
  const png05 = 'SC-HF-I-05-IM-0001-0100.png';

  it('reports the real PNG fixtures with the numbers an independent count gives', async () => {
    const data = tmp(
      layout(
        { [`images/${png01}`]: `png/images/${png01}`, [`labels/${png01}`]: `png/labels/${png01}`, [`images/${png05}`]: `png/images/${png05}`, [`labels/${png05}`]: `png/labels/${png05}` },
        `case,image,label,split\nSC-HF-I-01,images/${png01},labels/${png01},train\nSC-HF-I-05,images/${png05},labels/${png05},val\n`,
      ),
    );
    const out = tmp(mkdtempSync(join(tmpdir(), 'lvseg-report-out-')));
    const { report, htmlPath, jsonPath } = await writeDataReport({ dataDir: data, outDir: out });
    const onDisk: DataReport = JSON.parse(readFileSync(jsonPath, 'utf8'));
    expect(onDisk.imbalance).toEqual(report.imbalance);

    const px = [labelPixels(join(FIXTURES, 'png/labels', png01)), labelPixels(join(FIXTURES, 'png/labels', png05))];
    expect(px[0]).toBeGreaterThan(500); // a real LV, not an empty label
    const fractions = px.map((p) => p / (256 * 256));
    expect(onDisk.images.map((i) => i.lvPixels)).toEqual(px);
    expect(onDisk.imbalance.meanLvFraction).toBeCloseTo((fractions[0] + fractions[1]) / 2, 12);
    expect(onDisk.imbalance.allBackgroundPixelAccuracy).toBeCloseTo(1 - (fractions[0] + fractions[1]) / 2, 12);
    expect(onDisk.imbalance.allBackgroundMeanDice).toBe(0);
    expect(onDisk.counts.perSplit).toEqual([
      { split: 'train', cases: 1, images: 1 },
      { split: 'val', cases: 1, images: 1 },
    ]);
    expect(onDisk.sizes).toEqual([{ value: '256 × 256', count: 2 }]);
    expect(onDisk.pixelSpacings).toEqual([{ value: 'unknown (not in the files)', count: 2 }]);
    expect(onDisk.area.spacingKnown).toBe('none');
    expect(onDisk.images.map((i) => i.lvAreaMm2)).toEqual([null, null]);
    // One labelled frame per slice: nothing to pair, so both stay unknown rather than guessed.
    expect(onDisk.images.map((i) => [i.frame, i.slice, i.cinePhase, i.cardiacPhase])).toEqual([
      [48, 2, 8, 'unknown'],
      [100, 4, 20, 'unknown'],
    ]);
    expect(onDisk.phases.counts).toEqual({ ED: 0, ES: 0, unknown: 2 });
    for (const c of onDisk.intensity.perCase) expect(c.fractions.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);

    const html = readFileSync(htmlPath, 'utf8');
    expect(html).toContain(`data-value="${onDisk.imbalance.allBackgroundPixelAccuracy}"`);
    expect(html).not.toMatch(/<script|<link|src="http|href="http/);
    expect(html.match(/<img src="data:image\/png;base64,/g)).toHaveLength(onDisk.examples.length);
    expect(onDisk.examples.map((e) => e.id)).toEqual(['SC-HF-I-01/SC-HF-I-01-IM-0001-0048', 'SC-HF-I-05/SC-HF-I-05-IM-0001-0100']);
    expect(html.match(/<svg /g)).toHaveLength(onDisk.charts.length);
    expect(onDisk.charts.length).toBeGreaterThanOrEqual(5);
    expect(html).toContain('PNG has none');
  });

  it('reports the real DICOM + contour fixtures with pixel spacing and mm² (same masks as their PNG twins)', async () => {
    const data = tmp(
      layout(
        {
          'SCD0000101/48.dcm': 'SCD0000101/48.dcm',
          'SCD0000101/IM-0001-0048-icontour-manual.txt': 'SCD0000101/IM-0001-0048-icontour-manual.txt',
          'SCD0000401/100.dcm': 'SCD0000401/100.dcm',
          'SCD0000401/IM-0001-0100-icontour-manual.txt': 'SCD0000401/IM-0001-0100-icontour-manual.txt',
        },
        'case,image,contour,split\nSCD0000101,SCD0000101/48.dcm,SCD0000101/IM-0001-0048-icontour-manual.txt,train\nSCD0000401,SCD0000401/100.dcm,SCD0000401/IM-0001-0100-icontour-manual.txt,val\n',
      ),
    );
    const out = tmp(mkdtempSync(join(tmpdir(), 'lvseg-report-out-')));
    const { report } = await writeDataReport({ dataDir: data, outDir: out });
    // The contour raster equals the PNG label pixel for pixel (libs/imaging/src/contour.ts).
    const px = [labelPixels(join(FIXTURES, 'png/labels', png01)), labelPixels(join(FIXTURES, 'png/labels', png05))];
    expect(report.data.kind).toBe('dicom-contour');
    expect(report.images.map((i) => i.lvPixels)).toEqual(px);
    // PixelSpacing as the data README lists it for these two patients.
    expect(report.images.map((i) => i.pixelSpacingMm)).toEqual([
      [1.367188, 1.367188],
      [1.3672, 1.3672],
    ]);
    expect(report.images[0].lvAreaMm2).toBeCloseTo(px[0] * 1.367188 ** 2, 6);
    expect(report.images[1].lvAreaMm2).toBeCloseTo(px[1] * 1.3672 ** 2, 6);
    expect(report.area.spacingKnown).toBe('all');
    expect(report.area.overallMm2?.mean).toBeCloseTo((px[0] * 1.367188 ** 2 + px[1] * 1.3672 ** 2) / 2, 6);
    expect(report.pixelSpacings.map((s) => s.value).sort()).toEqual(['1.367188 × 1.367188 mm', '1.3672 × 1.3672 mm']);
    expect(report.images.map((i) => i.frame)).toEqual([48, 100]);
  });

  it('pairs end-diastole and end-systole, and bins the model input, on a synthetic set with known answers', async () => {
    // 32×32 images: background 0, LV 100, so normalize() sends LV to 1 and background to 0.
    const data = tmp(mkdtempSync(join(tmpdir(), 'lvseg-report-synth-')));
    mkdirSync(join(data, 'images'));
    mkdirSync(join(data, 'labels'));
    const frames = [
      { name: 'X-IM-0001-0001', split: 'train', side: [10, 10] }, // slice 0, phase 1, 100 px → ED
      { name: 'X-IM-0001-0008', split: 'train', side: [5, 10] }, // slice 0, phase 8, 50 px → ES
      { name: 'Y-IM-0001-0021', split: 'val', side: [4, 4] }, // alone at its slice → unknown
    ];
    for (const f of frames) {
      const m = new Uint8Array(32 * 32);
      for (let r = 0; r < f.side[0]; r++) for (let c = 0; c < f.side[1]; c++) m[(r + 3) * 32 + c + 5] = 1;
      writeFileSync(join(data, 'images', `${f.name}.png`), encodeGrayPng(32, 32, m.map((v) => v * 100)));
      writeFileSync(join(data, 'labels', `${f.name}.png`), encodeMaskPng({ rows: 32, columns: 32, data: m }));
    }
    writeFileSync(join(data, 'manifest.csv'), 'case,image,label,split\n' + frames.map((f) => `${f.name[0]},images/${f.name}.png,labels/${f.name}.png,${f.split}`).join('\n') + '\n');
    const { report } = await writeDataReport({ dataDir: data, outDir: join(data, 'out') });

    expect(report.images.map((i) => i.lvPixels)).toEqual([100, 50, 16]);
    expect(report.imbalance.meanLvFraction).toBeCloseTo((100 + 50 + 16) / 3 / 1024, 12);
    expect(report.imbalance.allBackgroundPixelAccuracy).toBeCloseTo(1 - (100 + 50 + 16) / 3 / 1024, 12);
    expect(report.images.map((i) => i.cardiacPhase)).toEqual(['ED', 'ES', 'unknown']);
    expect(report.phases.counts).toEqual({ ED: 1, ES: 1, unknown: 1 });
    expect(report.phases.unknownReasons).toEqual({ 'not-a-pair': 1 });
    expect([report.phases.meanEdAreaPx, report.phases.meanEsAreaPx]).toEqual([100, 50]);
    expect(report.phases.perCase[0]).toMatchObject({ case: 'X', ed: 1, es: 1, unknown: 0, edCinePhases: [1], esCinePhases: [8], edPhaseDisagreements: 0 });
    expect(report.phases.meanEdAreaMm2).toBeNull();
    const last = report.intensity.binStarts.length - 1;
    expect(report.intensity.insideLv[last]).toBe(1);
    expect(report.intensity.outsideLv[0]).toBe(1);
    expect(report.intensity.perCase.find((c) => c.case === 'X')?.fractions[last]).toBeCloseTo(150 / 2048, 12);
    expect(report.counts.perCase).toEqual([
      { case: 'X', split: 'train', images: 2 },
      { case: 'Y', split: 'val', images: 1 },
    ]);
    // Examples: smallest and largest of train (2 images), the one val image.
    expect(report.examples.map((e) => e.id)).toEqual(['X/X-IM-0001-0008', 'X/X-IM-0001-0001', 'Y/Y-IM-0001-0021']);
  });

  it('adds the model-vs-expert EF section (Bland–Altman chart, per-patient table, report.json) only when given a model\'s EFs', async () => {
    const data = tmp(layout({ [`images/${png01}`]: `png/images/${png01}`, [`labels/${png01}`]: `png/labels/${png01}` }, `case,image,label,split\nSC-HF-I-01,images/${png01},labels/${png01},val\n`));
    const plain = await writeDataReport({ dataDir: data, outDir: tmp(mkdtempSync(join(tmpdir(), 'lvseg-report-out-'))) });
    const plainHtml = readFileSync(plain.htmlPath, 'utf8');
    expect(plainHtml).not.toContain('model-ef');
    expect(plain.report.modelEf).toBeUndefined();
    expect(plain.report.charts.map((c) => c.id)).not.toContain('ef-bland-altman');

    // Differences +10, −2 and +2 pp: bias +3.3, SD 6.1, limits −8.6 to +15.3 pp, r 0.901 (libs/report/src/ef-agreement.spec.ts).
    const modelEf = {
      model: { source: 'file:///store#v1', version: 'v1', architecture: 'cascade' },
      split: 'val',
      images: 9,
      meanDice: 0.9,
      meanAbsError: 14 / 300,
      evaluationMs: 2500,
      perCase: [
        { case: 'A', images: 2, meanDice: 0.91, expert: 0.5, model: 0.6 },
        { case: 'B', images: 2, meanDice: 0.92, expert: 0.4, model: 0.38 },
        { case: 'C<&>', images: 2, meanDice: 0.93, expert: 0.6, model: 0.62 },
        { case: 'D', images: 3, meanDice: 0.8, expert: 0.55, model: null, reason: 'model: LV_EMPTY_VOLUME: no LV' },
      ],
    };
    const withModel = await writeDataReport({ dataDir: data, outDir: tmp(mkdtempSync(join(tmpdir(), 'lvseg-report-out-'))), modelEf });
    const json: DataReport = JSON.parse(readFileSync(withModel.jsonPath, 'utf8'));
    expect(json.modelEf).toMatchObject({ ...modelEf, efAgreement: { unit: 'fraction', n: 3, patients: 4, bias: expect.closeTo(1 / 30, 9), pearsonR: expect.closeTo(0.901127, 6) } });
    expect(json.charts.map((c) => c.id)).toEqual([...plain.report.charts.map((c) => c.id), 'ef-bland-altman']);
    const html = readFileSync(withModel.htmlPath, 'utf8');
    expect(html).not.toMatch(/<script|<link|src="http|href="http/);
    expect(html.match(/<svg /g)).toHaveLength(json.charts.length);
    expect(html).toContain('<li><a href="#model-ef">Model vs expert: ejection fraction</a></li>');
    const section = html.slice(html.indexOf('<section id="model-ef"'), html.indexOf('</section>', html.indexOf('<section id="model-ef"')));
    expect(section).toContain('7. Model vs expert: ejection fraction');
    expect(section).toContain('Model <code>v1</code> (cascade) segmented the 9 images of the <strong>val</strong> split');
    expect(section).toContain('n = 3 of 4 patients, bias +3.3 pp, SD 6.1 pp, limits of agreement −8.6 to +15.3 pp, Pearson r 0.901');
    expect(section).toContain('Mean |model − expert| 4.7 percentage points');
    expect(section).toContain('id="chart-ef-bland-altman"');
    expect(section).toContain('<th scope="row">A</th><td class="num">2</td><td class="num">0.910</td><td class="num">50.0</td><td class="num">60.0</td><td class="num">+10.0</td>');
    expect(section).toContain('<th scope="row">C&lt;&amp;&gt;</th>');
    expect(section).toContain('<th scope="row">D</th><td class="num">3</td><td class="num">0.800</td><td class="num">55.0</td><td class="num">–</td><td class="num">–</td>');
    expect(section).toContain('<li>D: model: LV_EMPTY_VOLUME: no LV</li>');
    expect(html).toContain("after the model's segmentation of the val split in 2.5 s");
  });

  it('fails with a clear, typed error on bad input', async () => {
    const out = tmp(mkdtempSync(join(tmpdir(), 'lvseg-report-out-')));
    await expect(writeDataReport({ dataDir: join(out, 'nope'), outDir: out })).rejects.toMatchObject({ code: 'DATA_DIR_NOT_FOUND', message: expect.stringContaining('does not exist') });
    const empty = tmp(mkdtempSync(join(tmpdir(), 'lvseg-report-empty-')));
    await expect(writeDataReport({ dataDir: empty, outDir: out })).rejects.toMatchObject({ code: 'MANIFEST_NOT_FOUND' });
    const broken = tmp(layout({ [`labels/${png01}`]: `png/labels/${png01}` }, `case,image,label,split\nA,images/${png01},labels/${png01},train\n`));
    mkdirSync(join(broken, 'images'));
    writeFileSync(join(broken, 'images', png01), 'this is not a PNG');
    await expect(writeDataReport({ dataDir: broken, outDir: out })).rejects.toMatchObject({
      code: 'PNG_DECODE_FAILED',
      message: expect.stringContaining(`images/${png01}`),
    });
  });
});
