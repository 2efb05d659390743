/** The self-contained report page: inline CSS, inline SVG charts, images as data: URIs; no script, no network. */
import { basename } from 'node:path';
import { DataReport, ModelEfReport } from './data-report';
import { formatEfAgreement, signedPp } from './ef-agreement';

export interface RenderedChart {
  id: string;
  title: string;
  caption: string;
  svg: string;
}

export interface RenderedExample {
  id: string;
  case: string;
  split: string;
  lvFraction: number;
  cardiacPhase: string;
  png: Buffer;
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** `0.98412` → `98.4 %` (the one percent format of the page; the browser test compares against it). */
export function formatPercent(fraction: number, digits = 1): string {
  return `${(fraction * 100).toFixed(digits)} %`;
}

const num = (x: number | null | undefined, digits = 0) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));

function table(caption: string, head: string[], rows: Array<Array<string | number>>, numericFrom = 1): string {
  const th = head.map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join('');
  const body = rows
    .map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th scope="row">${escapeHtml(String(c))}</th>` : `<td${i >= numericFrom ? ' class="num"' : ''}>${escapeHtml(String(c))}</td>`)).join('')}</tr>`)
    .join('\n');
  return `<table><caption>${escapeHtml(caption)}</caption><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function figure(c: RenderedChart | undefined): string {
  if (!c) return '';
  return `<figure class="chart" id="chart-${c.id}"><div class="scroll">${c.svg}</div><figcaption><strong>${escapeHtml(c.title)}.</strong> ${escapeHtml(c.caption)}</figcaption></figure>`;
}

const CSS = `
:root { color-scheme: light; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1a1a1a; background: #fff; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 1.7rem; margin: 0 0 4px; }
h2 { font-size: 1.3rem; margin: 36px 0 8px; padding-top: 8px; border-top: 2px solid #d4d4d4; }
h3 { font-size: 1.08rem; margin: 22px 0 6px; }
p.meta { color: #404040; margin: 0 0 16px; font-size: 0.9rem; overflow-wrap: break-word; }
.key { background: #fff7e6; border: 1px solid #d97706; border-radius: 6px; padding: 14px 18px; margin: 16px 0; }
.key .big { font-size: 2rem; font-weight: 700; color: #7c2d12; }
.key p { margin: 6px 0; }
nav ol { columns: 2; margin: 8px 0; }
a { color: #1d4ed8; }
table { border-collapse: collapse; margin: 10px 0 16px; font-size: 0.9rem; }
caption { text-align: left; font-weight: 600; padding: 4px 0; white-space: nowrap; }
th, td { border: 1px solid #c8c8c8; padding: 3px 9px; text-align: left; }
thead th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 12px 0 22px; }
figcaption { font-size: 0.9rem; color: #262626; max-width: 860px; }
.scroll { overflow-x: auto; }
.scroll svg { display: block; max-width: none; }
.examples { display: grid; grid-template-columns: repeat(auto-fill, minmax(270px, 1fr)); gap: 14px; }
.examples figure { margin: 0; }
.examples img { display: block; width: 256px; height: 256px; image-rendering: pixelated; border: 1px solid #999; }
.note { color: #404040; font-size: 0.9rem; }
details { margin: 6px 0 14px; }
summary { cursor: pointer; color: #1d4ed8; }
footer { margin-top: 40px; font-size: 0.85rem; color: #404040; }
`;

/** Section 7 (`lvseg report --model`): the model's EF against the expert's, per patient and as a Bland–Altman plot. */
function modelEfSection(m: ModelEfReport, chart: string): string {
  const a = m.efAgreement;
  const pctOrDash = (v: number | null) => (v === null ? '–' : (v * 100).toFixed(1));
  const noEf = m.perCase.filter((c) => c.expert === null || c.model === null);
  const dataValues = (['n', 'bias', 'sd', 'lowerLimit', 'upperLimit', 'pearsonR'] as const).map((k) => `data-${k.toLowerCase()}="${a[k] ?? ''}"`).join(' ');
  return `<section id="model-ef" aria-labelledby="model-ef-h">
<h2 id="model-ef-h">7. Model vs expert: ejection fraction</h2>
<p>Model <code>${escapeHtml(m.model.version ?? m.model.source)}</code>${m.model.architecture ? ` (${escapeHtml(m.model.architecture)})` : ''} segmented the ${m.images} images of the <strong>${escapeHtml(m.split)}</strong> split as <code>lvseg eval</code> does (the serving path), mean Dice ${num(m.meanDice, 3)}. For each patient the ejection fraction is computed twice, the same way (libs/lv-function: frames placed into slices and phases, EF from the end-diastolic and end-systolic LV by disc summation), once from the expert's masks and once from the model's. Mean |model − expert| ${m.meanAbsError === null ? '–' : `${(m.meanAbsError * 100).toFixed(1)} percentage points`}.</p>
<p id="ef-agreement" ${dataValues}><strong>Agreement (Bland–Altman, model − expert):</strong> ${escapeHtml(formatEfAgreement(a))}. The limits of agreement (bias ± 1.96 SD) are where 95 % of a new patient's differences are expected to fall, if the differences are roughly normal.</p>
${chart}
${table(`Ejection fraction per patient (${m.split})`, ['case', 'images', 'mean Dice', 'expert EF %', 'model EF %', 'model − expert (pp)'],
    m.perCase.map((c) => [c.case, c.images, num(c.meanDice, 3), pctOrDash(c.expert), pctOrDash(c.model), c.expert !== null && c.model !== null ? signedPp(c.model - c.expert) : '–']))}
${noEf.length ? `<p class="note">No EF for ${noEf.length} patient(s):</p>\n<ul class="note">${noEf.map((c) => `<li>${escapeHtml(c.case)}: ${escapeHtml(c.reason ?? 'unknown')}</li>`).join('')}</ul>` : ''}
</section>`;
}

/** The report page (one HTML string). */
export function renderReportHtml(r: DataReport, charts: RenderedChart[], examples: RenderedExample[]): string {
  const chart = (id: string) => figure(charts.find((c) => c.id === id));
  const im = r.imbalance;
  const name = basename(r.data.dir.replace(/[\\/]+$/, '')) || r.data.dir;
  const mm2 = r.area.spacingKnown === 'all';
  const kind = r.data.kind === 'png' ? 'PNG image + PNG label pairs' : r.data.kind === 'dicom-label' ? 'DICOM images + PNG label masks (imported from DICOM SEG / RTSTRUCT)' : 'DICOM images + Sunnybrook contour files (rasterised to masks)';
  const ph = r.phases;

  const spacingText =
    r.area.spacingKnown === 'all'
      ? 'Every image carries its pixel spacing (DICOM PixelSpacing), so areas are also given in mm².'
      : r.area.spacingKnown === 'none'
        ? 'These files carry no pixel spacing (PNG has none), so areas are in pixels only; converting to mm² would need a spacing the data does not give.'
        : 'Only some images carry a pixel spacing, so per-case mm² are given only where every image of the case has one.';

  const unknownReasons = Object.entries(ph.unknownReasons)
    .map(([k, v]) => `${v} ${k === 'no-frame-number' ? 'without a frame number in the file name' : k === 'not-a-pair' ? 'at a slice without exactly two labelled frames' : 'in pairs of equal area'}`)
    .join(', ');

  const exampleFigures = examples
    .map((e) => {
      const alt = `Short-axis cardiac MR image ${e.id} (${e.split}) after normalisation, with the expert LV mask outlined in yellow; LV is ${formatPercent(e.lvFraction, 2)} of the image${e.cardiacPhase !== 'unknown' ? `, ${e.cardiacPhase}` : ''}.`;
      return `<figure><img src="data:image/png;base64,${e.png.toString('base64')}" width="256" height="256" alt="${escapeHtml(alt)}"><figcaption><strong>${escapeHtml(e.id)}</strong> · ${escapeHtml(e.split)} · LV ${formatPercent(e.lvFraction, 2)} · phase ${escapeHtml(e.cardiacPhase)}</figcaption></figure>`;
    })
    .join('\n');

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Data report: ${escapeHtml(name)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<h1>Data report: ${escapeHtml(name)}</h1>
<p class="meta">Know the data before modelling. Folder <code>${escapeHtml(r.data.dir)}</code> · ${escapeHtml(kind)} · manifest sha256 <code>${r.data.manifestSha256.slice(0, 16)}…</code> · generated ${escapeHtml(r.generatedAt)} by <code>lvseg report</code>.</p>

<section class="key" aria-labelledby="key-heading">
<h2 id="key-heading" style="border:0;margin-top:0;padding-top:0">Class imbalance, first</h2>
<p>A constant “all background” answer scores <span class="big" id="all-background-accuracy" data-value="${im.allBackgroundPixelAccuracy}">${formatPercent(im.allBackgroundPixelAccuracy)}</span> pixel accuracy on these ${r.counts.images} images, with mean Dice <span id="all-background-dice" data-value="${im.allBackgroundMeanDice}">${num(im.allBackgroundMeanDice, 2)}</span>.</p>
<p>The LV is on average <strong id="mean-lv-fraction" data-value="${im.meanLvFraction}">${formatPercent(im.meanLvFraction, 2)}</strong> of an image (median ${formatPercent(im.medianLvFraction, 2)}, largest ${formatPercent(im.maxLvFraction, 2)}; ${im.imagesWithLv} of ${im.images} images contain LV).</p>
<p>Pixel accuracy is dominated by background a model gets right for free, so lvseg reports <strong>Dice</strong> (2|P∩T| / (|P| + |T|)), which counts only LV pixels and is 0 for the all-background answer.</p>
</section>

<nav aria-label="Sections"><ol>
<li><a href="#counts">Images per case and split</a></li>
<li><a href="#lv-fraction">LV pixel fraction</a></li>
<li><a href="#area">LV area, per case and by cardiac phase</a></li>
<li><a href="#intensity">Model-input intensities</a></li>
<li><a href="#sizes">Image sizes and pixel spacings</a></li>
<li><a href="#examples">Example images with their masks</a></li>
${r.modelEf ? '<li><a href="#model-ef">Model vs expert: ejection fraction</a></li>\n' : ''}</ol></nav>

<section id="counts" aria-labelledby="counts-h">
<h2 id="counts-h">1. Images per case and split</h2>
${table('Images and cases per split', ['split', 'cases', 'images'], [...r.counts.perSplit.map((s) => [s.split, s.cases, s.images]), ['all', r.counts.cases, r.counts.images]])}
${chart('images-per-case')}
<details><summary>Images per case (table)</summary>
${table('Images per case', ['case', 'split', 'images'], r.counts.perCase.map((c) => [c.case, c.split, c.images]), 2)}
</details>
</section>

<section id="lv-fraction" aria-labelledby="lvf-h">
<h2 id="lvf-h">2. LV pixel fraction</h2>
${chart('lv-fraction')}
${table('How much of the data is LV', ['measure', 'value'], [
    ['mean LV fraction per image', formatPercent(im.meanLvFraction, 2)],
    ['median LV fraction per image', formatPercent(im.medianLvFraction, 2)],
    ['largest LV fraction', formatPercent(im.maxLvFraction, 2)],
    ['all LV pixels / all pixels (pooled)', formatPercent(im.pooledLvFraction, 2)],
    ['pixel accuracy of “all background” (mean over images, as lvseg eval)', formatPercent(im.allBackgroundPixelAccuracy, 2)],
    ['mean Dice of “all background”', num(im.allBackgroundMeanDice, 3)],
  ])}
</section>

<section id="area" aria-labelledby="area-h">
<h2 id="area-h">3. LV area</h2>
<p>${escapeHtml(spacingText)} Over all images the LV covers ${num(r.area.overallPx.mean)} pixels on average (median ${num(r.area.overallPx.median)}, ${num(r.area.overallPx.min)} to ${num(r.area.overallPx.max)})${r.area.overallMm2 ? `, i.e. ${num(r.area.overallMm2.mean, 1)} mm² (median ${num(r.area.overallMm2.median, 1)}, ${num(r.area.overallMm2.min, 1)} to ${num(r.area.overallMm2.max, 1)})` : ''}.</p>
${chart('lv-area-per-case')}
<details><summary>LV area per case (table)</summary>
${table(`LV area per case (${mm2 ? 'pixels and mm²' : 'pixels'})`, ['case', 'split', 'images', 'mean px', 'median px', 'min px', 'max px', ...(mm2 ? ['mean mm²', 'min mm²', 'max mm²'] : [])],
    r.area.perCase.map((c) => [c.case, c.split, c.images, num(c.areaPx.mean), num(c.areaPx.median), num(c.areaPx.min), num(c.areaPx.max), ...(mm2 ? [num(c.areaMm2?.mean, 1), num(c.areaMm2?.min, 1), num(c.areaMm2?.max, 1)] : [])]), 2)}
</details>

<h3 id="phase-h">By cardiac phase: end-diastole and end-systole</h3>
<p>The manifest has no phase column, so the phase is derived. <strong>Rule:</strong> ${escapeHtml(ph.rule)}</p>
<p id="phase-counts">Result: <strong>${ph.counts.ED}</strong> frames called ED, <strong>${ph.counts.ES}</strong> ES and <strong>${ph.counts.unknown}</strong> unknown${unknownReasons ? ` (${escapeHtml(unknownReasons)})` : ''}. Mean LV area at ED ${num(ph.meanEdAreaPx)} px${ph.meanEdAreaMm2 !== null ? ` (${num(ph.meanEdAreaMm2, 1)} mm²)` : ''}, at ES ${num(ph.meanEsAreaPx)} px${ph.meanEsAreaMm2 !== null ? ` (${num(ph.meanEsAreaMm2, 1)} mm²)` : ''}.
${ph.edPhaseDisagreements > 0 ? ` In ${ph.edPhaseDisagreements} slice(s) the larger LV is not at the case's usual ED cine phase: the area rule and the timing disagree there (listed per case below), so treat those labels with care.` : ' In every paired slice the larger LV sits at the case\'s usual ED cine phase, so the area rule and the timing agree.'}${ph.counts.unknown > 0 ? ` Of the ${ph.counts.unknown} unknown frames, ${ph.unknownAtUsualEdPhase} sit at their case's usual ED cine phase and ${ph.unknownAtUsualEsPhase} at its usual ES phase; they are still left unknown, because a lone frame has no partner to compare with.` : ''}</p>
${chart('lv-area-by-phase')}
<details><summary>Phases per case (table)</summary>
${table('Cardiac phase per case', ['case', 'split', 'ED frames', 'ES frames', 'unknown', 'ED cine phase(s)', 'ES cine phase(s)', 'slices disagreeing', `mean ED ${mm2 ? 'mm²' : 'px'}`, `mean ES ${mm2 ? 'mm²' : 'px'}`],
    ph.perCase.map((p) => [p.case, p.split, p.ed, p.es, p.unknown, p.edCinePhases.join(', ') || '–', p.esCinePhases.join(', ') || '–', p.edPhaseDisagreements, mm2 ? num(p.meanEdAreaMm2, 1) : num(p.meanEdAreaPx), mm2 ? num(p.meanEsAreaMm2, 1) : num(p.meanEsAreaPx)]), 2)}
</details>
</section>

<section id="intensity" aria-labelledby="int-h">
<h2 id="int-h">4. Model-input intensities</h2>
<p>After <code>normalize()</code>, the one normalisation training and serving share: per image, the ${r.intensity.normalizePercentiles.low}th percentile maps to 0 and the ${r.intensity.normalizePercentiles.high}th to 1, clipped to [0, 1]. These are the values the model actually sees.</p>
${chart('intensity-per-case')}
${chart('intensity-inside-outside')}
</section>

<section id="sizes" aria-labelledby="sizes-h">
<h2 id="sizes-h">5. Image sizes and pixel spacings</h2>
${table('Distinct image sizes (width × height, pixels)', ['size', 'images'], r.sizes.map((s) => [s.value, s.count]))}
${table('Distinct pixel spacings (row × column)', ['pixel spacing', 'images'], r.pixelSpacings.map((s) => [s.value, s.count]))}
</section>

<section id="examples" aria-labelledby="ex-h">
<h2 id="ex-h">6. Example images with their masks</h2>
<p>Per split, the images with the smallest, median and largest LV fraction, shown as the model sees them (after normalisation) with the expert mask's boundary in yellow.</p>
<div class="examples">
${exampleFigures}
</div>
</section>
${r.modelEf ? `\n${modelEfSection(r.modelEf, chart('ef-bland-altman'))}\n` : ''}
<footer>Made by <code>lvseg report</code> in ${(r.timingMs.total / 1000).toFixed(1)} s (reading and measuring ${(r.timingMs.collect / 1000).toFixed(1)} s, charts ${(r.timingMs.charts / 1000).toFixed(1)} s)${r.modelEf?.evaluationMs !== undefined ? `, after the model's segmentation of the ${escapeHtml(r.modelEf.split)} split in ${(r.modelEf.evaluationMs / 1000).toFixed(1)} s` : ''}. All numbers are in <code>report.json</code> beside this page. Charts: vega-lite, rendered to SVG ahead of time.</footer>
</main>
</body>
</html>
`;
}
