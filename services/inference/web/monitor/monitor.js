/*
 * lvseg training monitor: lists training runs and model versions; for the chosen run shows the curves by epoch
 * (vega-lite through vega-embed), a table of the same numbers, and the per-layer activation heatmaps by epoch, kept
 * up to date from the run's server-sent events (GET /runs/:id/events). Plain browser JS, no framework.
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
    renderRun();
  }

  function renderRun() {
    const run = state.run;
    if (!run) return;
    state.runs.set(run.id, summaryOfState(state.runs.get(run.id) || {}));
    renderRunList();
    renderMeta();
    renderStatus();
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
    else if (run.status === 'finished') text = `Finished after ${progress}; published ${run.version || '(no version)'}.`;
    else text = `Failed at ${progress}: ${run.error || 'no reason recorded'}.`;
    $('live-status').textContent = text;
  }

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

  function curveSpec(run) {
    const axisX = { title: 'epoch', tickMinStep: 1, format: 'd' };
    const xDomain = run.epochs ? { domain: [1, Math.max(2, run.epochs)] } : {};
    const x = { field: 'epoch', type: 'quantitative', axis: axisX, scale: { ...xDomain, nice: false } };
    const splitChart = (prefix, title, yTitle, format) => ({
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
        y: { field: 'value', type: 'quantitative', title: yTitle, axis: { format }, scale: { zero: false } },
        color: { field: 'split', type: 'nominal', title: 'split', scale: { domain: ['train', 'val'], range: ['#8ab4f8', '#f6ad55'] } },
        tooltip: [{ field: 'epoch' }, { field: 'split' }, { field: 'value', format: '.4f' }],
      },
    });
    const single = (field, title, yTitle, format, scale) => ({
      title,
      description: `${title} by epoch`,
      width: 300,
      height: 170,
      transform: [{ filter: `datum.${field} != null` }],
      mark: { type: 'line', point: true, color: '#8ab4f8' },
      encoding: { x, y: { field, type: 'quantitative', title: yTitle, axis: { format }, scale }, tooltip: [{ field: 'epoch' }, { field, format: '.4g' }] },
    });
    return {
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      description: `Training curves of run ${run.id}`,
      data: { name: 'epochs' },
      columns: 2,
      concat: [
        single('loss', 'Loss', 'training loss', '.3f', { zero: false }),
        splitChart('accuracy', 'Pixel accuracy', 'pixel accuracy', '.1%'),
        splitChart('dice', 'Dice', 'Dice', '.2f'),
        single('learningRate', 'Learning rate', 'learning rate', '.1e', { type: 'log' }),
      ],
      // The data arrives after the first layout and keeps growing: re-fit the padding (axis labels) on every update.
      autosize: { type: 'pad', resize: true },
      background: null,
      config: {
        view: { stroke: '#3a4048' },
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
    await state.view.change('epochs', window.vega.changeset().remove(() => true).insert(chartRows())).runAsync();
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
  };

  Promise.all([refreshRuns(), refreshModels()]).then(() => {
    const id = runFromHash();
    if (id) openRun(id);
  });
  setInterval(refreshRuns, RUN_LIST_REFRESH_MS);
})();
