/*
 * lvseg training monitor: lists training runs and model versions; for the chosen run shows the curves by epoch
 * (vega-lite through vega-embed), a table of the same numbers, and the per-layer activation heatmaps by epoch, kept
 * up to date from the run's server-sent events (GET /runs/:id/events), with the trainer's step within the epoch and an
 * estimate of the time left while it trains. Plain browser JS, no framework.
 * All text from the server goes in through textContent, never as HTML.
 */
(function () {
  'use strict';

  const RUN_LIST_REFRESH_MS = 5000;

  /** Everything the page knows about the chosen run. */
  const state = {
    runId: null,
    run: null,
    epochs: new Map(), // epoch number -> RunEpoch
    heatmaps: new Map(), // epoch number -> layer names
    progress: null, // the trainer's latest step report (RunProgress), if any
    progressAt: 0, // performance.now() when it arrived, to count the estimate down between reports
    source: null, // EventSource of the chosen run
    view: null, // vega View of the curves
    viewRunId: null,
    runs: new Map(), // id -> RunSummary (from GET /runs, updated by events)
    models: [],
  };

  const $ = (id) => document.getElementById(id);

  function el(tag, props, children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (k === 'text') node.textContent = v;
        else if (k === 'className') node.className = v;
        else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of children || []) node.append(c);
    return node;
  }

  const fmt = {
    num: (v, digits) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '–'),
    pct: (v) => (typeof v === 'number' && Number.isFinite(v) ? (100 * v).toFixed(2) + ' %' : '–'),
    lr: (v) => (typeof v === 'number' && Number.isFinite(v) ? v.toExponential(2) : '–'),
    when: (iso) => (iso ? new Date(iso).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : '–'),
    /** A duration for a person: `45 s`, `3 min 05 s`, `2 h 07 min`. */
    duration: (seconds) => {
      const s = Math.max(0, Math.round(seconds));
      if (s < 60) return `${s} s`;
      if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
      return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
    },
  };

  function showError(message) {
    const box = $('monitor-error');
    box.textContent = message;
    box.hidden = !message;
  }

  // The API key the user gave this tab, if any (/api-key.js; README "Security").
  const apiKey = () => (window.lvsegApiKey ? window.lvsegApiKey.key() : '');
  const authHeaders = () => (window.lvsegApiKey ? window.lvsegApiKey.headers() : {});

  async function getJson(url) {
    const res = await fetch(url, { headers: { Accept: 'application/json', ...authHeaders() } });
    const body = await res.json().catch(() => null);
    const message = (body && body.error && body.error.message) || `${url}: HTTP ${res.status}`;
    if ((res.status === 401 || res.status === 403) && window.lvsegApiKey) window.lvsegApiKey.show(`The API refused the request: ${message}`);
    if (!res.ok) throw new Error(message);
    return body;
  }

  /**
   * Server-sent events read with fetch, which (unlike EventSource) can send the Authorization header; used when an
   * API key is set. Same interface as EventSource for what the monitor uses: addEventListener(type, fn), close(),
   * readyState; it reconnects after a dropped connection as EventSource does (the stream starts with a snapshot).
   */
  function keyedEventSource(url) {
    const listeners = new Map();
    const source = {
      readyState: 0,
      addEventListener(type, fn) {
        listeners.set(type, [...(listeners.get(type) || []), fn]);
      },
      close() {
        source.readyState = 2;
        controller.abort();
      },
    };
    let controller = new AbortController();
    const emit = (type, data) => (listeners.get(type) || []).forEach((fn) => fn({ type, data }));
    async function connect() {
      controller = new AbortController();
      try {
        const res = await fetch(url, { headers: { Accept: 'text/event-stream', ...authHeaders() }, signal: controller.signal });
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        source.readyState = 1;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
            let type = 'message';
            const data = [];
            for (const line of block.split(/\r?\n/)) {
              if (line.startsWith('event:')) type = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
            }
            if (data.length) emit(type, data.join('\n'));
          }
        }
      } catch {
        // dropped, refused or aborted: below
      }
      if (source.readyState === 2) return;
      source.readyState = 0;
      emit('error');
      setTimeout(() => source.readyState !== 2 && connect(), 2000);
    }
    connect();
    return source;
  }

  // ---------- runs list and model versions ----------

  function runLabel(r) {
    const planned = r.epochs ? ` of ${r.epochs}` : '';
    const epoch = r.latestEpoch == null ? 'no epoch yet' : `epoch ${r.latestEpoch}${planned}`;
    return { title: r.id, detail: `${r.architecture} · ${r.status} · ${epoch}` };
  }

  /** Updates the run buttons in place (keyed by id), so a refresh never steals keyboard focus. */
  function renderRunList() {
    const list = $('run-list');
    const runs = [...state.runs.values()].sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1));
    $('runs-empty').textContent = runs.length ? '' : 'No training runs recorded yet. Start one with: lvseg train';
    $('runs-empty').hidden = runs.length > 0;
    const existing = new Map([...list.children].map((li) => [li.dataset.runId, li]));
    runs.forEach((r, index) => {
      let li = existing.get(r.id);
      if (!li) {
        const button = el('button', { type: 'button', className: 'run-button' }, [el('span', { className: 'run-id' }), el('span', { className: 'run-detail' })]);
        button.addEventListener('click', () => selectRun(r.id));
        li = el('li', {}, [button]);
        li.dataset.runId = r.id;
      }
      const button = li.firstChild;
      const label = runLabel(r);
      button.querySelector('.run-id').textContent = label.title;
      button.querySelector('.run-detail').textContent = label.detail;
      button.className = `run-button status-${r.status}`;
      button.setAttribute('aria-pressed', r.id === state.runId ? 'true' : 'false');
      if (list.children[index] !== li) list.insertBefore(li, list.children[index] || null);
    });
    for (const [id, li] of existing) if (!state.runs.has(id)) li.remove();
  }

  async function refreshRuns() {
    try {
      const { runs } = await getJson('/runs');
      const fresh = new Map(runs.map((r) => [r.id, r]));
      // The chosen run's live state is newer than a list read that raced with an event.
      if (state.runId && state.run && fresh.has(state.runId)) fresh.set(state.runId, summaryOfState(fresh.get(state.runId)));
      state.runs = fresh;
      renderRunList();
      renderModels();
    } catch (e) {
      $('runs-empty').hidden = false;
      $('runs-empty').textContent = `Could not list runs: ${e.message}`;
    }
  }

  function summaryOfState(base) {
    const epochs = [...state.epochs.keys()];
    const latestEpoch = epochs.length ? Math.max(...epochs) : null;
    return { ...base, ...state.run, latestEpoch, latest: latestEpoch == null ? null : state.epochs.get(latestEpoch) };
  }

  async function refreshModels() {
    try {
      const body = await getJson('/models');
      state.models = body.models || [];
      renderModels();
    } catch (e) {
      $('models-empty').hidden = false;
      $('models-empty').textContent = `Could not list model versions: ${e.message}`;
    }
  }

  function renderModels() {
    const list = $('model-list');
    list.replaceChildren();
    $('models-empty').hidden = state.models.length > 0;
    if (!state.models.length) $('models-empty').textContent = 'No model versions published yet.';
    const runOfVersion = new Map([...state.runs.values()].filter((r) => r.version).map((r) => [r.version, r.id]));
    for (const m of state.models) {
      const valDice = m.metrics && m.metrics.val ? fmt.num(m.metrics.val.dice, 4) : '–';
      const aliases = m.aliases && m.aliases.length ? ` · ${m.aliases.join(', ')}` : '';
      const children = [el('span', { className: 'model-version', text: m.version }), el('span', { className: 'model-detail', text: `${m.architecture} · val Dice ${valDice}${aliases}` })];
      const runId = runOfVersion.get(m.version);
      if (runId) {
        const button = el('button', { type: 'button', className: 'link-button', text: 'show its training run' });
        button.addEventListener('click', () => selectRun(runId));
        children.push(button);
      }
      list.append(el('li', {}, children));
    }
  }

  // ---------- the chosen run ----------

  function selectRun(id) {
    if (location.hash !== `#run=${encodeURIComponent(id)}`) location.hash = `run=${encodeURIComponent(id)}`;
    else openRun(id);
  }

  function runFromHash() {
    const m = /^#run=(.+)$/.exec(location.hash);
    return m ? decodeURIComponent(m[1]) : null;
  }

  async function openRun(id) {
    if (state.source) state.source.close();
    state.source = null;
    state.runId = id;
    state.run = null;
    state.epochs = new Map();
    state.heatmaps = new Map();
    state.progress = null;
    showError('');
    renderRunList();
    $('run-title').textContent = `Run ${id}`;
    $('live-status').textContent = 'Loading…';
    try {
      applySnapshot(await getJson(`/runs/${encodeURIComponent(id)}`));
    } catch (e) {
      $('live-status').textContent = '';
      showError(`Could not load run ${id}: ${e.message}`);
      return;
    }
    if (state.run.status === 'running') follow(id);
  }

  /** Follows the run live: the stream starts with a snapshot, so nothing recorded in between is missed. */
  function follow(id) {
    const url = `/runs/${encodeURIComponent(id)}/events`;
    const source = apiKey() ? keyedEventSource(url) : new EventSource(url);
    state.source = source;
    const handle = (fn) => (event) => {
      if (state.runId !== id) return;
      fn(JSON.parse(event.data));
    };
    source.addEventListener('snapshot', handle(applySnapshot));
    source.addEventListener('epoch', handle((e) => {
      state.epochs.set(e.epoch, e);
      renderRun();
    }));
    source.addEventListener('heatmaps', handle((h) => {
      state.heatmaps.set(h.epoch, h.layers);
      renderHeatmaps();
    }));
    source.addEventListener('progress', handle((p) => {
      state.progress = p;
      state.progressAt = performance.now();
      renderProgress();
    }));
    source.addEventListener('status', handle((run) => {
      state.run = run;
      renderRun();
    }));
    source.addEventListener('end', handle(() => {
      source.close();
      if (state.source === source) state.source = null;
      renderStatus();
      refreshModels();
    }));
    source.addEventListener('error', () => {
      // EventSource reconnects by itself (and gets a fresh snapshot); say so while it does.
      if (state.runId === id && source.readyState !== 2 /* CLOSED */) $('live-status').textContent = 'Connection lost; reconnecting…';
    });
  }

  function applySnapshot(detail) {
    state.run = detail.run;
    state.epochs = new Map(detail.epochs.map((e) => [e.epoch, e]));
    state.heatmaps = new Map(detail.heatmaps.map((h) => [h.epoch, h.layers]));
    state.progress = detail.progress || null;
    state.progressAt = performance.now();
    renderRun();
  }

  function renderRun() {
    const run = state.run;
    if (!run) return;
    state.runs.set(run.id, summaryOfState(state.runs.get(run.id) || {}));
    renderRunList();
    renderMeta();
    renderStatus();
    renderProgress();
    // Shown before drawing: the chart lays itself out in a visible container.
    $('run-body').hidden = false;
    renderTable();
    renderCurves();
    renderHeatmaps();
  }

  function renderMeta() {
    const run = state.run;
    const h = run.hyperParameters || {};
    const items = [
      ['Architecture', run.architecture],
      ['Status', run.status],
      ['Started', fmt.when(run.createdAt)],
      ['Planned epochs', run.epochs == null ? '–' : String(run.epochs)],
      ['Optimizer, learning rate', `${h.optimizer || '–'}, ${h.learningRate == null ? '–' : h.learningRate}`],
      ['Data', `${run.dataSource || '–'} (manifest sha256 ${String(run.manifestSha256).slice(0, 12)}…)`],
      ['Heatmap image', run.valImageId || 'none (no val image)'],
      ['Published version', run.version || '–'],
    ];
    if (run.error) items.push(['Error', run.error]);
    const dl = $('run-meta');
    dl.replaceChildren(...items.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]));
    dl.hidden = false;
  }

  function renderStatus() {
    const run = state.run;
    const latest = state.epochs.size ? Math.max(...state.epochs.keys()) : null;
    const progress = latest == null ? 'no epoch finished yet' : `epoch ${latest}${run.epochs ? ` of ${run.epochs}` : ''}`;
    let text;
    if (run.status === 'running') text = state.source ? `Live: training, ${progress}.` : `Running, ${progress}.`;
    else if (run.status === 'finished') text = `Finished after ${progress}; ${run.version ? `published ${run.version}` : 'no version published'}.`;
    else text = `Failed at ${progress}: ${run.error || 'no reason recorded'}.`;
    $('live-status').textContent = text;
  }

  /**
   * Where the trainer is within the epoch and the time left, from its latest step report: the epoch's seconds per step
   * so far times the steps to go, plus the remaining epochs at the mean recorded epoch time (which includes validation).
   * Between reports (at most one a second) the estimate counts down by the time passed here.
   */
  function progressEstimate(run, p, latestEpoch, sinceReportSeconds) {
    const perStep = p.step > 0 ? p.epochSeconds / p.step : null;
    const epochLeftAtReport = perStep == null ? null : perStep * (p.steps - p.step);
    const recorded = [...state.epochs.values()].map((e) => e.seconds).filter((x) => typeof x === 'number' && x > 0);
    const meanEpoch = recorded.length ? recorded.reduce((a, b) => a + b, 0) / recorded.length : perStep == null ? null : perStep * p.steps;
    const epochsAfter = run.epochs ? Math.max(0, run.epochs - Math.max(p.epoch, latestEpoch || 0)) : null;
    const epochLeft = epochLeftAtReport == null ? null : Math.max(0, epochLeftAtReport - sinceReportSeconds);
    const runLeft = epochLeft == null || epochsAfter == null || meanEpoch == null ? null : epochLeft + epochsAfter * meanEpoch;
    return { epochLeftAtReport, epochLeft, runLeft };
  }

  function renderProgress() {
    const box = $('step-progress');
    const run = state.run;
    const p = state.progress;
    const latest = state.epochs.size ? Math.max(...state.epochs.keys()) : 0;
    // Only while training; a report of an epoch already recorded is stale (the next epoch has not reported yet).
    if (!run || run.status !== 'running' || !p || p.epoch <= latest) {
      box.hidden = true;
      return;
    }
    const since = (performance.now() - state.progressAt) / 1000;
    const est = progressEstimate(run, p, latest, since);
    const planned = run.epochs ? ` of ${run.epochs}` : '';
    const parts = [`Epoch ${p.epoch}${planned}: step ${p.step} of ${p.steps}`];
    if (p.step >= p.steps) parts.push('validating and recording the epoch');
    else if (est.epochLeft != null) parts.push(`about ${fmt.duration(est.epochLeft)} left in this epoch`);
    if (est.runLeft != null && run.epochs && run.epochs > p.epoch) parts.push(`about ${fmt.duration(est.runLeft)} left in the run`);
    if (typeof p.loss === 'number') parts.push(`loss ${fmt.num(p.loss, 4)}`);
    // A step slower than usual, or a trainer that stopped without saying so: say how old the report is.
    if (since >= 10) parts.push(`last report ${fmt.duration(since)} ago`);
    $('step-text').textContent = parts.join(' · ');
    const bar = $('step-bar');
    bar.max = p.steps;
    bar.value = p.step;
    // For tests and tooling: the report as received and the estimate at that moment (no local count-down).
    box.dataset.epoch = String(p.epoch);
    box.dataset.step = String(p.step);
    box.dataset.steps = String(p.steps);
    box.dataset.epochEtaSeconds = est.epochLeftAtReport == null ? '' : String(est.epochLeftAtReport);
    box.hidden = false;
  }

  // The estimate counts down between reports.
  setInterval(() => {
    if (state.progress && state.run && state.run.status === 'running') renderProgress();
  }, 1000);

  function sortedEpochs() {
    return [...state.epochs.values()].sort((a, b) => a.epoch - b.epoch);
  }

  function renderTable() {
    $('epoch-caption').textContent = `Metrics of run ${state.run.id} by epoch (val columns are empty on epochs without a validation pass)`;
    const body = $('epoch-body');
    body.replaceChildren(
      ...sortedEpochs().map((e) =>
        el('tr', {}, [
          el('th', { scope: 'row', text: String(e.epoch) }),
          el('td', { text: fmt.num(e.loss, 4) }),
          el('td', { text: fmt.pct(e.train && e.train.pixelAccuracy) }),
          el('td', { text: fmt.pct(e.val && e.val.pixelAccuracy) }),
          el('td', { text: fmt.num(e.train && e.train.dice, 4) }),
          el('td', { text: fmt.num(e.val && e.val.dice, 4) }),
          el('td', { text: fmt.lr(e.learningRate) }),
          el('td', { text: fmt.num(e.seconds, 1) }),
        ]),
      ),
    );
  }

  /** One row per epoch, as the charts read them (null where a split was not measured). */
  function chartRows() {
    const v = (x) => (typeof x === 'number' && Number.isFinite(x) ? x : null);
    return sortedEpochs().map((e) => ({
      epoch: e.epoch,
      loss: v(e.loss),
      learningRate: v(e.learningRate),
      accuracy_train: v(e.train && e.train.pixelAccuracy),
      accuracy_val: v(e.val && e.val.pixelAccuracy),
      dice_train: v(e.train && e.train.dice),
      dice_val: v(e.val && e.val.dice),
    }));
  }

  /** Integer epoch ticks for epochs 1..last: every epoch up to 10, else 1 and the multiples of a round step (≤ 10 ticks). */
  function epochTicks(last) {
    if (last <= 10) return Array.from({ length: last }, (_, k) => k + 1);
    const step = [2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000].find((s) => last / s <= 9) || Math.ceil(last / 9);
    const ticks = [1];
    for (let t = step; t <= last; t += step) ticks.push(t);
    return ticks;
  }

  /** Log-axis ticks in [lo, hi]: 1, 2 and 5 times the powers of ten (only the powers over more than three decades). */
  function logTicks(lo, hi) {
    const mantissas = Math.log10(hi / lo) > 3 ? [1] : [1, 2, 5];
    const ticks = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const m of mantissas) {
        const v = Number(`${m}e${e}`);
        if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks.push(v);
      }
    }
    return ticks;
  }

  /** `values` spread out to at least `minSpan` (a single point or a flat curve would give an empty domain), within `bounds`. */
  function paddedDomain(values, minSpan, bounds) {
    const finite = values.filter((v) => typeof v === 'number' && Number.isFinite(v));
    if (!finite.length) return bounds ? [bounds[0], bounds[1]] : [0, 1];
    let lo = Math.min(...finite);
    let hi = Math.max(...finite);
    const span = Math.max(hi - lo, minSpan);
    const pad = (span - (hi - lo)) / 2 + span * 0.08;
    lo -= pad;
    hi += pad;
    if (bounds) {
      if (lo < bounds[0]) [lo, hi] = [bounds[0], Math.min(bounds[1], hi + (bounds[0] - lo))];
      if (hi > bounds[1]) [lo, hi] = [Math.max(bounds[0], lo - (hi - bounds[1])), bounds[1]];
    }
    return [lo, hi];
  }

  /**
   * The charts' scales as signal values, from the data: an integer epoch axis over the planned epochs (one epoch:
   * centred, a single tick), Dice on 0..1, and the other axes spread around their values, so one point or a flat curve
   * still has an axis with distinct labels.
   */
  function chartScales(run, rows) {
    const lastEpoch = Math.max(1, run.epochs || 0, ...rows.map((r) => r.epoch));
    const lossValues = rows.map((r) => r.loss);
    const lossMax = Math.max(0, ...lossValues.filter((v) => typeof v === 'number' && Number.isFinite(v)).map(Math.abs));
    const loss = paddedDomain(lossValues, Math.max(1e-3, 0.1 * lossMax), null);
    const accuracy = paddedDomain(rows.flatMap((r) => [r.accuracy_train, r.accuracy_val]), 0.02, [0, 1]);
    const rates = rows.map((r) => r.learningRate).filter((v) => typeof v === 'number' && v > 0);
    const lr = rates.length ? [Math.min(...rates) / 2, Math.max(...rates) * 2] : [1e-4, 1e-2];
    return {
      epochLo: lastEpoch === 1 ? 0.5 : 1,
      epochHi: lastEpoch === 1 ? 1.5 : lastEpoch,
      epochTicks: epochTicks(lastEpoch),
      lossLo: loss[0],
      lossHi: loss[1],
      accuracyLo: accuracy[0],
      accuracyHi: accuracy[1],
      rateLo: lr[0],
      rateHi: lr[1],
      // Round values only: any format short enough for a tick label would show 1.2e-3 and 1.4e-3 alike.
      rateTicks: logTicks(lr[0], lr[1]),
    };
  }

  function curveSpec(run) {
    const signal = (name) => ({ expr: name });
    const axisX = { title: 'epoch', values: signal('epochTicks'), format: 'd' };
    const x = { field: 'epoch', type: 'quantitative', axis: axisX, scale: { domain: [signal('epochLo'), signal('epochHi')], nice: false } };
    const splitChart = (prefix, title, yTitle, format, scale) => ({
      title,
      description: `${title} by epoch, train and val`,
      width: 300,
      height: 170,
      transform: [
        { fold: [`${prefix}_train`, `${prefix}_val`], as: ['series', 'value'] },
        { filter: 'datum.value != null' },
        { calculate: `datum.series === '${prefix}_val' ? 'val' : 'train'`, as: 'split' },
      ],
      mark: { type: 'line', point: true },
      encoding: {
        x,
        y: { field: 'value', type: 'quantitative', title: yTitle, axis: format ? { format } : {}, scale },
        color: { field: 'split', type: 'nominal', title: 'split', scale: { domain: ['train', 'val'], range: ['#8ab4f8', '#f6ad55'] } },
        tooltip: [{ field: 'epoch' }, { field: 'split' }, { field: 'value', format: '.4f' }],
      },
    });
    const single = (field, title, yTitle, format, scale, values) => ({
      title,
      description: `${title} by epoch`,
      width: 300,
      height: 170,
      transform: [{ filter: `datum.${field} != null` }],
      mark: { type: 'line', point: true, color: '#8ab4f8' },
      encoding: { x, y: { field, type: 'quantitative', title: yTitle, axis: { ...(format ? { format } : {}), ...(values ? { values } : {}) }, scale }, tooltip: [{ field: 'epoch' }, { field, format: '.4g' }] },
    });
    const between = (lo, hi) => ({ domain: [signal(lo), signal(hi)], nice: false, zero: false });
    const initial = chartScales(run, []);
    return {
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      description: `Training curves of run ${run.id}`,
      data: { name: 'epochs' },
      // Set from the data on every update (chartScales), so the axes follow the run without embedding the chart again.
      params: Object.entries(initial).map(([name, value]) => ({ name, value })),
      columns: 2,
      concat: [
        // Formats without a precision: vega picks the digits from the tick step, so neighbouring labels differ.
        single('loss', 'Loss', 'training loss', '', between('lossLo', 'lossHi')),
        splitChart('accuracy', 'Pixel accuracy', 'pixel accuracy', '%', between('accuracyLo', 'accuracyHi')),
        splitChart('dice', 'Dice', 'Dice', '', { domain: [0, 1], nice: false }),
        single('learningRate', 'Learning rate', 'learning rate', '.0e', { type: 'log', domain: [signal('rateLo'), signal('rateHi')], nice: false }, signal('rateTicks')),
      ],
      // The data arrives after the first layout and keeps growing: re-fit the padding (axis labels) on every update.
      autosize: { type: 'pad', resize: true },
      background: null,
      config: {
        view: { stroke: '#3a4048' },
        // The marks stay out of the accessibility tree (empty ones, before the first epoch, would be unnamed graphics):
        // each chart's description names it, and the table below holds every number.
        mark: { aria: false },
        axis: { labelColor: '#e8eaed', titleColor: '#e8eaed', gridColor: '#2e333a', domainColor: '#b3b9c2', tickColor: '#b3b9c2' },
        legend: { labelColor: '#e8eaed', titleColor: '#e8eaed' },
        title: { color: '#e8eaed', anchor: 'start', fontSize: 13 },
      },
    };
  }

  let embedding = null;

  /** Draws the curves; the first time for a run it embeds the chart, afterwards it only swaps the data. */
  async function renderCurves() {
    const run = state.run;
    if (!window.vegaEmbed || !window.vega) {
      $('curves').textContent = 'Charts are unavailable (the chart library did not load); the table below has every number.';
      return;
    }
    if (state.viewRunId !== run.id || !state.view) {
      if (embedding && embedding.runId === run.id) {
        await embedding.promise;
      } else {
        if (state.view) state.view.finalize();
        state.view = null;
        const promise = window.vegaEmbed('#curves', curveSpec(run), { actions: false, renderer: 'svg' }).then((result) => {
          if (state.runId !== run.id) {
            result.finalize();
            return;
          }
          state.view = result.view;
          state.viewRunId = run.id;
        });
        embedding = { runId: run.id, promise };
        try {
          await promise;
        } catch (e) {
          showError(`Could not draw the curves: ${e.message}`);
          return;
        } finally {
          if (embedding && embedding.promise === promise) embedding = null;
        }
      }
    }
    if (!state.view || state.viewRunId !== run.id) return;
    // Read again: the latest rows, whatever arrived while the chart was being embedded.
    const rows = chartRows();
    for (const [name, value] of Object.entries(chartScales(run, rows))) state.view.signal(name, value);
    await state.view.change('epochs', window.vega.changeset().remove(() => true).insert(rows)).runAsync();
  }

  function heatmapUrl(runId, epoch, layer) {
    return `/runs/${encodeURIComponent(runId)}/heatmaps/${epoch}/${encodeURIComponent(layer)}.png`;
  }

  /**
   * A heatmap thumbnail linking to the full-size image. With an API key the PNG is fetched with the key and shown from
   * a blob: URL (an <img src> cannot send a header); without one the API URL is used as it is.
   */
  function heatmapLink(url, alt) {
    const img = el('img', { alt, width: 96, height: 96, decoding: 'async', 'data-src': url });
    const link = el('a', { href: url, target: '_blank', rel: 'noopener' }, [img]);
    if (!apiKey()) {
      img.src = url;
      return link;
    }
    fetch(url, { headers: authHeaders() })
      .then((res) => (res.ok ? res.blob() : Promise.reject(new Error(`HTTP ${res.status}`))))
      .then((blob) => {
        const local = URL.createObjectURL(blob);
        img.src = local;
        link.href = local;
      })
      .catch((e) => {
        img.alt = `${alt} (could not load: ${e.message})`;
      });
    return link;
  }

  function renderHeatmaps() {
    const run = state.run;
    const epochs = [...state.heatmaps.keys()].sort((a, b) => a - b);
    const layers = run.layers || [];
    $('heatmaps-hint').textContent = run.valImageId
      ? `Channel-mean activation of each layer for the fixed validation image ${run.valImageId}, colour-mapped (blue low, red high) and scaled per image. Select an image to open it full size.`
      : 'This run records no heatmaps (it had no validation image).';
    $('heatmap-caption').textContent = 'Layers (rows) by recorded epoch (columns)';
    const head = $('heatmap-head');
    head.replaceChildren(el('th', { scope: 'col', text: 'Layer' }), ...epochs.map((e) => el('th', { scope: 'col', text: `Epoch ${e}` })));
    const body = $('heatmap-body');
    // Images already shown are kept (not reloaded) when a new epoch column arrives.
    const shown = new Map([...body.querySelectorAll('img')].map((img) => [img.dataset.src, img.closest('a')]));
    body.replaceChildren(
      ...layers.map((layer) =>
        el('tr', {}, [
          el('th', { scope: 'row', text: layer }),
          ...epochs.map((epoch) => {
            const recorded = (state.heatmaps.get(epoch) || []).includes(layer);
            if (!recorded) return el('td', { text: '–' });
            const url = heatmapUrl(run.id, epoch, layer);
            const link = shown.get(url) || heatmapLink(url, `Layer ${layer}, epoch ${epoch}`);
            return el('td', {}, [link]);
          }),
        ]),
      ),
    );
  }

  // ---------- start ----------

  window.addEventListener('hashchange', () => {
    const id = runFromHash();
    if (id && id !== state.runId) openRun(id);
  });

  /** For tests and debugging: the vega view of the curves and the chosen run. */
  window.lvsegMonitor = {
    view: () => state.view,
    runId: () => state.runId,
    epochs: () => sortedEpochs().map((e) => e.epoch),
    progress: () => state.progress,
  };

  Promise.all([refreshRuns(), refreshModels()]).then(() => {
    const id = runFromHash();
    if (id) openRun(id);
  });
  setInterval(refreshRuns, RUN_LIST_REFRESH_MS);
})();
