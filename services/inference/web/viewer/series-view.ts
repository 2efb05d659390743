/**
 * The viewer's series mode: the DICOMs of one short-axis series (and expert labels named like them) dropped or
 * chosen, sent to POST /segment/series, and its answer shown: the slices × phases grid with the model's outline (and
 * the expert's where labelled), the volume of every phase, EDV/ESV/SV/EF with the method and notes, and with labels
 * the expert's values and model − expert.
 *
 * Every number is the API's; the page only draws. Images are decoded for display by the server's own decoder
 * (decodeDicomImage) and the expert's outline is rasterised by the server's own contour code, as in the single-image mode.
 */
import type { BinaryMask, GrayImage } from '@lvseg/imaging/image';
import { decodeDicomImage } from '@lvseg/imaging/dicom';
import type { LvFunctionDto, LvPhaseSumDto, SeriesImageDto, SeriesResponseDto } from '../../src/segment/dto/series-response.dto';
import { apiJson, describeError } from './api-client';
import { OUTLINE, Outline, imageCanvas, labelMask, legendItem, maskFromBase64Png, paint } from './drawing';
import { PixelRegion, formatArea, formatMs, zoomRegion } from './mask-geometry';
import { GridCell, compareFileNames, formatEf, formatMl, formatSigned, nextGridCell, phaseName, seriesFileKind, seriesGridLayout } from './series-layout';

/** Canvas pixels per image pixel in the selected image's view. */
const DETAIL_SCALE = 2;
/** Target size of a grid cell's picture, CSS pixels (the LV region is drawn at a whole-number scale near it). */
const CELL_PX = 120;
/** Image pixels around the LV in the grid's crop. */
const CELL_MARGIN = 12;

interface UploadFile {
  name: string;
  bytes: Uint8Array;
}

interface SeriesUpload {
  dicoms: UploadFile[];
  labels: UploadFile[];
  /** Names of files left out (not a DICOM, contour or PNG). */
  skipped: string[];
}

/** One answered image as the page draws it. */
interface ShownImage {
  dto: SeriesImageDto;
  /** The image in the display window; undefined when this browser could not decode it (its outlines still show). */
  source?: HTMLCanvasElement;
  model: BinaryMask;
  expert?: BinaryMask;
}

export interface SeriesMode {
  /** Sends the last series again (e.g. after another model was chosen); nothing when none was chosen. */
  resubmit(): void;
}

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
};

/** Wires the series controls and result panel; `chosenModel` is the `?model=` of the page's model select ('' = served). */
export function setUpSeriesMode(opts: { chosenModel: () => string }): SeriesMode {
  const ui = {
    drop: $<HTMLDivElement>('series-drop'),
    filesInput: $<HTMLInputElement>('series-input'),
    folderInput: $<HTMLInputElement>('series-folder-input'),
    files: $<HTMLParagraphElement>('series-files'),
    status: $<HTMLParagraphElement>('series-status'),
    error: $<HTMLDivElement>('series-error'),
    summary: $<HTMLParagraphElement>('series-summary'),
    results: $<HTMLDivElement>('series-results'),
    functionTable: $<HTMLTableElement>('series-function'),
    functionNote: $<HTMLDivElement>('series-function-note'),
    phases: $<HTMLTableElement>('series-phases'),
    legend: $<HTMLUListElement>('series-legend'),
    grid: $<HTMLTableElement>('series-grid'),
    unplaced: $<HTMLParagraphElement>('series-unplaced'),
    detailCanvas: $<HTMLCanvasElement>('series-detail-canvas'),
    detailCaption: $<HTMLElement>('series-detail-caption'),
    detailStats: $<HTMLDListElement>('series-detail-stats'),
    method: $<HTMLParagraphElement>('series-method'),
    notes: $<HTMLUListElement>('series-notes'),
  };
  let upload: SeriesUpload | undefined;
  /** Bumped by every new series or model choice, so a late answer to an older request is dropped. */
  let generation = 0;
  let shown: ShownImage[] = [];

  const setStatus = (text: string) => (ui.status.textContent = text);
  const showError = (text: string | null) => {
    ui.error.textContent = text ?? '';
    ui.error.hidden = text === null;
  };

  // ------------------------------------------------------------ input

  async function choose(files: File[]): Promise<void> {
    const sorted = [...files].sort((a, b) => compareFileNames(pathOf(a), pathOf(b)));
    const next: SeriesUpload = { dicoms: [], labels: [], skipped: [] };
    for (const f of sorted) {
      const head = new Uint8Array(await f.slice(0, 132).arrayBuffer());
      const kind = seriesFileKind(f.name, head);
      if (kind === 'skip') next.skipped.push(f.name);
      else (kind === 'dicom' ? next.dicoms : next.labels).push({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) });
    }
    const left = next.skipped.length ? `; left out ${next.skipped.length} other file${next.skipped.length > 1 ? 's' : ''}: ${shortList(next.skipped)}` : '';
    ui.files.textContent = `${count(next.dicoms.length, 'DICOM')} and ${count(next.labels.length, 'label')} chosen${left}.`;
    if (next.dicoms.length === 0 && next.labels.length === 0) {
      showError(`None of the ${count(sorted.length, 'file')} is a DICOM, a contour (.txt) or a PNG mask: nothing to send.`);
      setStatus('Nothing sent.');
      return;
    }
    upload = next;
    await submit();
  }

  async function submit(): Promise<void> {
    const sent = upload;
    if (!sent) return;
    const mine = ++generation;
    showError(null);
    clearResults();
    setStatus(`Segmenting ${count(sent.dicoms.length, 'image')}${sent.labels.length ? ` with ${count(sent.labels.length, 'expert label')}` : ''} on the server…`);
    const form = new FormData();
    for (const d of sent.dicoms) form.append('files', new Blob([d.bytes], { type: 'application/dicom' }), d.name);
    for (const l of sent.labels) form.append('labels', new Blob([l.bytes]), l.name);
    const params = new URLSearchParams();
    if (opts.chosenModel()) params.set('model', opts.chosenModel());
    const started = performance.now();
    try {
      const pending = apiJson<SeriesResponseDto>(`/segment/series${params.size ? `?${params}` : ''}`, { method: 'POST', body: form });
      // While the server works: decode the images for display with the server's own decoder.
      const images = await Promise.all(sent.dicoms.map((d) => decodeForDisplay(d.bytes)));
      const r = await pending;
      const roundTripMs = performance.now() - started;
      if (mine !== generation) return;
      setStatus(`Drawing ${count(r.images.length, 'image')}…`);
      const drawn = await Promise.all(
        r.images.map(async (dto, k): Promise<ShownImage> => {
          const model = await maskFromBase64Png(dto.mask.png, dto.mask.rows, dto.mask.columns);
          const label = dto.label ? sent.labels.find((l) => l.name === dto.label!.fileName) : undefined;
          const expert = label ? await labelMask(label.bytes, dto.rows, dto.columns).catch(() => undefined) : undefined;
          const image = images[k];
          return { dto, model, expert, source: image && image.rows === dto.rows && image.columns === dto.columns ? imageCanvas(image) : undefined };
        }),
      );
      if (mine !== generation) return;
      shown = drawn;
      render(r, roundTripMs);
      const fn = r.function;
      const expert = r.comparison?.expert;
      setStatus(
        `Segmented ${count(r.images.length, 'image')} with ${r.model.version}: ` +
          (fn ? `EF ${formatEf(fn.ef)}${expert ? ` (expert ${formatEf(expert.ef)})` : ''}.` : `no LV function (${r.functionError?.code ?? 'unknown'}).`),
      );
    } catch (e) {
      if (mine !== generation) return;
      showError(describeError(e));
      setStatus('Series segmentation failed.');
      ui.summary.textContent = 'No result: the API refused the series (see the message beside the files).';
    }
  }

  async function decodeForDisplay(bytes: Uint8Array): Promise<GrayImage | undefined> {
    try {
      return (await decodeDicomImage(bytes)).image;
    } catch {
      return undefined; // the API names what is wrong with the file; the outlines are drawn on black
    }
  }

  // ------------------------------------------------------------ rendering

  function clearResults(): void {
    shown = [];
    ui.results.hidden = true;
    ui.summary.textContent = 'Waiting for the server…';
  }

  function render(r: SeriesResponseDto, roundTripMs: number): void {
    const layout = seriesGridLayout(r.images);
    const s = r.series;
    const placement = `slice positions from ${s.slicePositionSource === 'image-position' ? 'ImagePositionPatient' : 'SliceLocation'}; ${
      s.phaseSource ? `phases by ${s.phaseSource === 'trigger-time' ? 'TriggerTime' : 'InstanceNumber'}` : 'no phase order'
    }`;
    const t = r.timings;
    ui.summary.textContent =
      `${count(s.images, 'image')} in ${count(layout.slices.length, 'slice')} × ${count(layout.phases.length, 'phase')} (${placement})` +
      `${s.labelled ? `, ${s.labelled} with an expert label` : ', no expert labels'}. Model ${r.model.version} (${r.model.architecture}). ` +
      `Server round trip ${formatMs(roundTripMs)}; the API’s own time ${formatMs(t.totalMs)}, of which inference ${formatMs(t.inferenceMs)}.`;
    ui.summary.dataset.roundTripMs = String(roundTripMs);
    renderFunction(r);
    renderPhases(r);
    renderGrid(r, layout);
    renderMethod(r);
    ui.results.hidden = false;
  }

  function renderFunction(r: SeriesResponseDto): void {
    const fn = r.function;
    const cmp = r.comparison ?? null;
    const partial = cmp && cmp.frames !== r.images.length;
    const columns: Array<{ key: string; title: string; f: LvFunctionDto | null }> = [
      { key: 'model', title: partial ? `Model (all ${r.images.length} images)` : 'Model', f: fn },
      ...(cmp && partial ? [{ key: 'model-labelled', title: `Model (the ${cmp.frames} labelled images)`, f: cmp.model }] : []),
      ...(cmp ? [{ key: 'expert', title: 'Expert', f: cmp.expert }] : []),
    ];
    const phaseText = (f: LvFunctionDto, which: 'edPhase' | 'esPhase') => (f[which] === null ? 'per slice (slice-pair rule)' : String(f[which]));
    const rows: Array<{ key: string; title: string; value: (f: LvFunctionDto) => { text: string; value?: number }; diff?: () => { text: string; value?: number } }> = [
      {
        key: 'ef',
        title: 'Ejection fraction (EF)',
        value: (f) => ({ text: formatEf(f.ef), value: f.ef }),
        diff: () => ({ text: formatSigned(cmp!.difference.ef * 100, 1, 'percentage points'), value: cmp!.difference.ef }),
      },
      {
        key: 'edv',
        title: 'End-diastolic volume (EDV)',
        value: (f) => ({ text: formatMl(f.edvMl), value: f.edvMl ?? undefined }),
        diff: () => ({ text: formatSigned(cmp!.difference.edvMl, 1, 'mL'), value: cmp!.difference.edvMl ?? undefined }),
      },
      {
        key: 'esv',
        title: 'End-systolic volume (ESV)',
        value: (f) => ({ text: formatMl(f.esvMl), value: f.esvMl ?? undefined }),
        diff: () => ({ text: formatSigned(cmp!.difference.esvMl, 1, 'mL'), value: cmp!.difference.esvMl ?? undefined }),
      },
      { key: 'sv', title: 'Stroke volume (SV = EDV − ESV)', value: (f) => ({ text: formatMl(f.svMl), value: f.svMl ?? undefined }) },
      { key: 'ed-phase', title: 'ED phase', value: (f) => ({ text: phaseText(f, 'edPhase'), value: f.edPhase ?? undefined }) },
      { key: 'es-phase', title: 'ES phase', value: (f) => ({ text: phaseText(f, 'esPhase'), value: f.esPhase ?? undefined }) },
    ];
    const head = document.createElement('thead');
    head.append(row([th('Measure', 'col'), ...columns.map((c) => th(c.title, 'col')), ...(cmp ? [th('Model − expert', 'col')] : [])]));
    const body = document.createElement('tbody');
    for (const rw of rows) {
      const cells = columns.map((c) => {
        const v = c.f ? rw.value(c.f) : { text: '—' };
        return td(v.text, `series-${rw.key}-${c.key}`, v.value);
      });
      if (cmp) {
        const d = rw.diff ? rw.diff() : { text: '' };
        cells.push(td(d.text, `series-${rw.key}-diff`, d.value));
      }
      body.append(row([th(rw.title, 'row'), ...cells]));
    }
    ui.functionTable.replaceChildren(caption('LV function of the series by disc summation; EF as a percentage of EDV'), head, body);

    // Why a column is empty, and what the volumes need.
    const notes: string[] = [];
    if (!fn && r.functionError) notes.push(`No LV function from the model’s masks (${r.functionError.code}): ${r.functionError.message}`);
    if (r.comparison === null && r.comparisonError) notes.push(`No expert comparison (${r.comparisonError.code}): ${r.comparisonError.message}`);
    if (fn?.volumeNullReason) notes.push(`Volumes not computed: ${fn.volumeNullReason}. EF is from the area sums.`);
    ui.functionNote.replaceChildren(...notes.map((n) => paragraph(n)));
    ui.functionNote.hidden = notes.length === 0;
  }

  function renderPhases(r: SeriesResponseDto): void {
    const fn = r.function;
    const expert = r.comparison?.expert;
    const keyOf = (p: LvPhaseSumDto) => (p.phase === null ? p.role ?? '?' : String(p.phase));
    const model = new Map((fn?.phases ?? []).map((p) => [keyOf(p), p]));
    const exp = new Map((expert?.phases ?? []).map((p) => [keyOf(p), p]));
    // Phases in order (the slice-pair rule's two groups as ED, ES), the model's and the expert's together.
    const rank = (p: LvPhaseSumDto) => p.phase ?? (p.role === 'ED' ? -2 : -1);
    const all = new Map([...exp, ...model]);
    const keys = [...all.keys()].sort((a, b) => rank(all.get(a)!) - rank(all.get(b)!));
    const volume = (p: LvPhaseSumDto | undefined, unit: 'mm2' | 'px') =>
      p === undefined ? undefined : p.volumeMl !== null ? { text: formatMl(p.volumeMl), value: p.volumeMl } : { text: `${Math.round(p.areaSum)} ${unit === 'px' ? 'px' : 'mm²'} (area sum)`, value: p.areaSum };
    const largest = Math.max(1e-9, ...[...model.values(), ...exp.values()].map((p) => p.volumeMl ?? p.areaSum));
    // A bar per value (decoration: the number beside it is the text).
    const bar = (v: { value: number } | undefined, kind: 'model' | 'expert') => {
      const track = document.createElement('span');
      track.className = 'track';
      track.setAttribute('aria-hidden', 'true');
      const b = document.createElement('span');
      b.className = `bar ${kind}`;
      b.style.width = `${v ? Math.max(0, (100 * v.value) / largest) : 0}%`;
      track.append(b);
      return track;
    };
    const cell = (p: LvPhaseSumDto | undefined, unit: 'mm2' | 'px', kind: 'model' | 'expert', key: string) => {
      const v = volume(p, unit);
      const c = td('', `series-phase-${key}-${kind}`, v?.value);
      const text = document.createElement('span');
      text.className = 'num';
      text.textContent = v?.text ?? '—';
      c.append(bar(v, kind), text);
      return c;
    };
    const head = document.createElement('thead');
    head.append(row([th('Phase', 'col'), th('Model', 'col'), ...(expert ? [th('Expert', 'col')] : [])]));
    const body = document.createElement('tbody');
    for (const k of keys) {
      const p = all.get(k)!;
      const role = model.get(k)?.role ?? null;
      const expertRole = exp.get(k)?.role ?? null;
      const name =
        p.phase === null || !expert || role === expertRole
          ? phaseName(p.phase, p.phase === null ? p.role : role ?? expertRole)
          : `phase ${p.phase} (${[role && `model ${role}`, expertRole && `expert ${expertRole}`].filter(Boolean).join(', ')})`;
      const tr = row([th(name, 'row'), cell(model.get(k), fn?.areaUnit ?? 'mm2', 'model', k), ...(expert ? [cell(exp.get(k), expert.areaUnit, 'expert', k)] : [])]);
      if (role) tr.classList.add(`role-${role.toLowerCase()}`);
      body.append(tr);
    }
    ui.phases.replaceChildren(caption('LV volume of every phase, summed over the slices every phase covers; ED and ES marked'), head, body);
  }

  function renderGrid(r: SeriesResponseDto, layout: ReturnType<typeof seriesGridLayout>): void {
    const fn = r.function;
    const roleOf = (phase: number | null) => (phase === null || !fn ? null : phase === fn.edPhase ? 'ED' : phase === fn.esPhase ? 'ES' : null);
    const region = sharedRegion();
    const labelled = shown.some((s) => s.expert);
    ui.legend.replaceChildren(
      legendItem(OUTLINE.server, 'Model mask (POST /segment/series)'),
      ...(labelled ? [legendItem(OUTLINE.label, 'Expert label')] : []),
    );

    const head = document.createElement('thead');
    head.append(
      row([
        th('Slice', 'col'),
        ...layout.phases.map((p) => {
          const h = th(p === null ? 'Phase unknown' : `Phase ${p}`, 'col');
          const role = roleOf(p);
          if (role) {
            const badge = document.createElement('span');
            badge.className = `role role-${role.toLowerCase()}`;
            badge.textContent = role;
            h.append(' ', badge);
          }
          return h;
        }),
      ]),
    );
    const body = document.createElement('tbody');
    const buttons: HTMLButtonElement[] = [];
    const cells: GridCell[] = [];
    layout.slices.forEach((slice, rowIndex) => {
      const tr = row([th(String(slice), 'row')]);
      layout.phases.forEach((phase, columnIndex) => {
        const here = layout.at(slice, phase);
        const c = document.createElement('td');
        if (here.length === 0) {
          c.className = 'empty';
          c.textContent = '—';
          c.title = `No image at slice ${slice}, ${phase === null ? 'phase unknown' : `phase ${phase}`}`;
        }
        for (const k of here) {
          const b = cellButton(k, region, roleOf(phase));
          b.dataset.row = String(rowIndex);
          b.dataset.column = String(columnIndex);
          b.tabIndex = -1;
          buttons.push(b);
          cells.push({ row: rowIndex, column: columnIndex });
          c.append(b);
        }
        tr.append(c);
      });
      if (layout.phases.every((p) => layout.at(slice, p).length === 0)) tr.classList.add('missing-slice');
      body.append(tr);
    });
    ui.grid.replaceChildren(
      caption(
        `Rows: slices (0 = the lowest position along the stack’s normal); columns: cine phases. Each cell shows the image around the LV with the model’s outline${
          labelled ? ' and, where labelled, the expert’s' : ''
        }. Choose a cell to see the whole image; arrow keys move between cells.`,
      ),
      head,
      body,
    );
    ui.unplaced.textContent = layout.unplaced.length ? `Not in the grid (no slice position): ${shortList(layout.unplaced.map((k) => r.images[k].fileName))}.` : '';
    ui.unplaced.hidden = layout.unplaced.length === 0;

    // One tab stop for the grid (the selected cell); arrows move between cells.
    ui.grid.onkeydown = (e) => {
      const from = buttons.indexOf(e.target as HTMLButtonElement);
      if (from < 0) return;
      const to = nextGridCell(cells, from, e.key);
      if (to === undefined) return;
      e.preventDefault();
      buttons[from].tabIndex = -1;
      buttons[to].tabIndex = 0;
      buttons[to].focus();
    };
    // Start on the ED phase at the middle slice (the model's; else the first image).
    const edColumn = layout.phases.findIndex((p) => p !== null && p === fn?.edPhase);
    const inColumn = buttons.filter((b) => Number(b.dataset.column) === edColumn);
    const start = inColumn[Math.floor(inColumn.length / 2)] ?? buttons[0];
    if (start) {
      start.tabIndex = 0;
      select(Number(start.dataset.index));
    }
  }

  /** The crop every cell shows: the square around every outline of the series (one size), else the whole image. */
  function sharedRegion(): PixelRegion | undefined {
    const first = shown[0]?.dto;
    if (!first || shown.some((s) => s.dto.rows !== first.rows || s.dto.columns !== first.columns)) return undefined;
    return zoomRegion(shown.flatMap((s) => [s.model, ...(s.expert ? [s.expert] : [])]), CELL_MARGIN) ?? undefined;
  }

  function outlinesOf(s: ShownImage, thin: boolean): Outline[] {
    // Drawn wide to thin, so the expert's outline on the same pixel edges leaves the model's visible on both sides.
    return [
      { mask: s.model, colour: OUTLINE.server, width: thin ? 2.5 : 3.5, dash: [], name: 'model mask' },
      { mask: s.expert, colour: OUTLINE.label, width: thin ? 1.25 : 2, dash: [], name: 'expert label' },
    ];
  }

  function describeImage(s: ShownImage): string {
    const d = s.dto;
    const where = `Slice ${d.sliceIndex ?? 'unknown'}, ${d.phaseIndex === null ? 'phase unknown' : `phase ${d.phaseIndex}`}`;
    const model = d.lvFound ? `model LV ${formatArea(d.lvArea.mm2, d.lvArea.pixels)}` : 'the model found no LV';
    const expert = d.label ? `; expert LV ${formatArea(d.label.lvArea.mm2, d.label.lvArea.pixels)}, Dice ${d.label.dice.toFixed(3)}` : '';
    return `${where}, ${d.fileName}: ${model}${expert}`;
  }

  function cellButton(k: number, shared: PixelRegion | undefined, role: string | null): HTMLButtonElement {
    const s = shown[k];
    const d = s.dto;
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'cell';
    b.dataset.index = String(k);
    b.id = `series-cell-${k}`;
    b.setAttribute('aria-label', `${describeImage(s)}${role ? ` (${role})` : ''}. Show the whole image.`);
    const canvas = document.createElement('canvas');
    canvas.setAttribute('aria-hidden', 'true');
    const region = shared ?? zoomRegion([s.model, ...(s.expert ? [s.expert] : [])], CELL_MARGIN) ?? { top: 0, left: 0, height: d.rows, width: d.columns };
    paint(canvas, s.source, region, Math.max(1, Math.round((1.5 * CELL_PX) / region.width)), outlinesOf(s, true));
    const text = document.createElement('span');
    text.className = 'cell-caption';
    const area = d.lvFound ? (d.lvArea.mm2 === null ? `${d.lvArea.pixels} px` : `${Math.round(d.lvArea.mm2)} mm²`) : 'no LV';
    text.textContent = d.label ? `${area} · Dice ${d.label.dice.toFixed(2)}` : area;
    b.append(canvas, text);
    b.addEventListener('click', () => select(k));
    return b;
  }

  /** Shows image `k` whole, with its outlines and the API's numbers for it, and marks its cell. */
  function select(k: number): void {
    const s = shown[k];
    if (!s) return;
    for (const b of Array.from(ui.grid.querySelectorAll<HTMLButtonElement>('button.cell'))) {
      const on = b.dataset.index === String(k);
      b.setAttribute('aria-pressed', String(on));
      if (on) b.tabIndex = 0;
      else b.tabIndex = -1;
    }
    const d = s.dto;
    paint(ui.detailCanvas, s.source, { top: 0, left: 0, height: d.rows, width: d.columns }, DETAIL_SCALE, outlinesOf(s, false));
    ui.detailCanvas.setAttribute('aria-label', `Short-axis MR image, ${d.columns}×${d.rows} pixels, ${describeImage(s)}${s.source ? '' : ' (this browser could not decode the image: outlines on black)'}`);
    ui.detailCanvas.dataset.index = String(k);
    ui.detailCaption.textContent = `${d.fileName}: slice ${d.sliceIndex ?? '?'}, ${d.phaseIndex === null ? 'phase unknown' : `phase ${d.phaseIndex}`}${d.instanceNumber !== null ? `, instance ${d.instanceNumber}` : ''}`;
    const stats: Array<[string, string]> = [
      ['Model LV area', d.lvFound ? formatArea(d.lvArea.mm2, d.lvArea.pixels) : 'no LV found'],
      ...(d.label
        ? ([
            ['Expert LV area', formatArea(d.label.lvArea.mm2, d.label.lvArea.pixels)],
            ['Dice vs expert', `${d.label.dice.toFixed(4)} (Jaccard ${d.label.jaccard.toFixed(4)}; ${d.label.kind === 'png' ? 'PNG mask' : 'contour'} ${d.label.fileName})`],
          ] as Array<[string, string]>)
        : []),
      ...(d.roi ? ([['Segmenter ROI', `${d.roi.width}×${d.roi.height} px around row ${Math.round(d.roi.centerRow)}, column ${Math.round(d.roi.centerColumn)} (${d.roi.source}${d.roi.secondLook ? ', second look at a small LV' : ''})`]] as Array<[string, string]>) : []),
      ['Pixel spacing', d.pixelSpacingMm ? `${d.pixelSpacingMm[0].toFixed(3)}×${d.pixelSpacingMm[1].toFixed(3)} mm` : 'none in the DICOM'],
    ];
    ui.detailStats.replaceChildren(
      ...stats.flatMap(([t, v]) => {
        const dt = document.createElement('dt');
        dt.textContent = t;
        const dd = document.createElement('dd');
        dd.textContent = v;
        return [dt, dd];
      }),
    );
  }

  function renderMethod(r: SeriesResponseDto): void {
    const fn = r.function ?? r.comparison?.expert ?? null;
    ui.method.textContent = fn ? fn.method : 'No LV function, so no method to state.';
    const notes = [...(r.function?.notes ?? [])];
    for (const n of r.comparison?.expert.notes ?? []) if (!notes.includes(n)) notes.push(`Expert: ${n}`);
    ui.notes.replaceChildren(...(notes.length ? notes : ['None: no slice was left out or interpolated and no frame was dropped.']).map((n) => listItem(n)));
  }

  // ------------------------------------------------------------ wiring

  ui.filesInput.addEventListener('change', () => {
    if (ui.filesInput.files?.length) void choose(Array.from(ui.filesInput.files)).finally(() => (ui.filesInput.value = ''));
  });
  ui.folderInput.addEventListener('change', () => {
    if (ui.folderInput.files?.length) void choose(Array.from(ui.folderInput.files)).finally(() => (ui.folderInput.value = ''));
  });
  ui.drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    ui.drop.classList.add('over');
  });
  ui.drop.addEventListener('dragleave', () => ui.drop.classList.remove('over'));
  ui.drop.addEventListener('drop', (e) => {
    e.preventDefault();
    ui.drop.classList.remove('over');
    if (!e.dataTransfer) return;
    // Entries and files are only readable during the event; folders are walked afterwards.
    const entries = Array.from(e.dataTransfer.items ?? [])
      .map((it) => (it.kind === 'file' ? it.webkitGetAsEntry() : null))
      .filter((x): x is FileSystemEntry => x !== null);
    const files = Array.from(e.dataTransfer.files);
    const walked = entries.some((x) => x.isDirectory) ? Promise.all(entries.map(filesOfEntry)).then((l) => l.flat()) : Promise.resolve(files);
    void walked.then(choose).catch((err: unknown) => showError(`Could not read the dropped files: ${err instanceof Error ? err.message : String(err)}`));
  });
  setStatus('Drop the DICOMs of one series (a folder or many files), or choose them.');

  return {
    resubmit: () => {
      if (upload) void submit();
    },
  };
}

/** Every file under a dropped folder entry (or the file itself). */
async function filesOfEntry(entry: FileSystemEntry): Promise<File[]> {
  if (entry.isFile) return [await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject))];
  if (!entry.isDirectory) return [];
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  const children: FileSystemEntry[] = [];
  // readEntries answers in batches until an empty one.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break;
    children.push(...batch);
  }
  return (await Promise.all(children.map(filesOfEntry))).flat();
}

const pathOf = (f: File): string => f.webkitRelativePath || f.name;
const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;
const shortList = (names: string[]): string => `${names.slice(0, 5).join(', ')}${names.length > 5 ? `, and ${names.length - 5} more` : ''}`;

function row(cells: HTMLElement[]): HTMLTableRowElement {
  const tr = document.createElement('tr');
  tr.append(...cells);
  return tr;
}

function th(text: string, scope: 'col' | 'row'): HTMLTableCellElement {
  const h = document.createElement('th');
  h.scope = scope;
  h.textContent = text;
  return h;
}

/** A data cell; `value` (the API's full-precision number) goes to data-value for tests and tooling. */
function td(text: string, id: string, value?: number): HTMLTableCellElement {
  const c = document.createElement('td');
  c.id = id;
  c.textContent = text;
  if (value !== undefined) c.dataset.value = String(value);
  return c;
}

function caption(text: string): HTMLTableCaptionElement {
  const c = document.createElement('caption');
  c.textContent = text;
  return c;
}

function paragraph(text: string): HTMLParagraphElement {
  const p = document.createElement('p');
  p.textContent = text;
  return p;
}

function listItem(text: string): HTMLLIElement {
  const li = document.createElement('li');
  li.textContent = text;
  return li;
}
