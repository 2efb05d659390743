/**
 * The inference service end to end: the real Nest app on a port, the real S3 model store against an in-process S3
 * server (s3rver), real tfjs models published into it, real Sunnybrook DICOMs and expert contours. Expected values are
 * computed independently through the libraries (decodeDicom, segmentImages, rasterizeContour, dice…) with the same
 * model loaded from the store, never copied from a previous run.
 */
import { randomBytes } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import request from 'supertest';
import { BinaryMask, MODEL_INPUT_SIZE, decodeDicom, parseContour, rasterizeContour, resizeMaskNearest, toModelInput } from '@lvseg/imaging';
import {
  DEFAULT_MASK_OPTIONS,
  dice,
  gradCam,
  heatmapLayers,
  initBackend,
  jaccard,
  layerActivationMaps,
  loadModelByRef,
  pixelAccuracy,
  renderHeatmap,
  segmentImages,
} from '@lvseg/model';
import { ModelCard, ModelStore, openModelStore } from '@lvseg/model-store';
import { RunningS3rver, startS3rver } from '../libs/model-store/src/testing/s3rver';
import { resampledDicom, rewrittenDicom } from './support/dicom-variants';
import { startInferenceApp, RunningInferenceApp, waitUntilReady } from './support/inference-app';
import { publishSeededModel } from './support/models';
import { channel, decodeBase64Png, distinctColours, maskFromBase64Png } from './support/png';
import { describeWithSunnybrook, pngTwinLabel, readContour, readDicom, scd401frame100, sunnybrookCases } from './support/sunnybrook';

const countLv = (m: BinaryMask) => m.data.reduce((n, v) => n + (v ? 1 : 0), 0);

describeWithSunnybrook('inference service end to end (S3 store on s3rver, real Sunnybrook DICOMs)', () => {
  let s3: RunningS3rver;
  let store: ModelStore;
  let v1: ModelCard;
  let v2: ModelCard;
  let app: RunningInferenceApp;
  let reference: tf.LayersModel;
  const frame = () => scd401frame100();

  /** The mask the libraries give for these DICOM bytes with v1, independently of the service. */
  const libraryMask = (dicom: Buffer): BinaryMask => segmentImages(reference, [decodeDicom(dicom).image], DEFAULT_MASK_OPTIONS)[0].mask;

  beforeAll(async () => {
    await initBackend();
    s3 = await startS3rver();
    store = openModelStore(`s3://lvseg-e2e-${randomBytes(4).toString('hex')}/lvseg/models`, { s3: s3.connection });
    v1 = await publishSeededModel(store, { seed: 1 });
    v2 = await publishSeededModel(store, { seed: 2 });
    await store.setAlias('production', v1.version);
    // These checks compare with the tfjs libraries bit for bit, so the service runs tfjs here. The onnxruntime engine
    // is checked against tfjs in inference-engines.e2e-spec.ts (identical on trained or decisive models; an untrained
    // one's probabilities sit within 1e-7 of the 0.5 threshold, where float rounding decides).
    app = await startInferenceApp(store, { LVSEG_ENGINE: 'tfjs' });
    reference = (await loadModelByRef(store, v1.version)).model;
  });

  afterAll(async () => {
    await app?.close();
    reference?.dispose();
    await s3?.stop();
  });

  it('is live, and ready with the production model loaded from S3', async () => {
    await request(app.url).get('/health/live').expect(200, { status: 'live' });
    const ready = await request(app.url).get('/health/ready').expect(200);
    expect(ready.body).toMatchObject({ status: 'ready', defaultRef: 'production', version: v1.version, architecture: 'fcn-paper' });
  });

  it('POST /segment with a raw DICOM body answers every field, matching the libraries', async () => {
    const dicom = readDicom(frame());
    const { meta } = decodeDicom(dicom);
    const res = await request(app.url).post('/segment').set('Content-Type', 'application/dicom').set('x-request-id', 'e2e-raw-1').send(dicom).expect(200);
    expect(res.headers['x-request-id']).toBe('e2e-raw-1');
    const body = res.body;
    expect(Object.keys(body).sort()).toEqual(['image', 'lvArea', 'lvFound', 'mask', 'model', 'roi', 'timings']);
    expect(body.model).toEqual({ version: v1.version, architecture: 'fcn-paper' });
    expect(body.image).toEqual({ rows: meta.rows, columns: meta.columns, pixelSpacingMm: meta.pixelSpacingMm, sopInstanceUid: meta.sopInstanceUid });

    const png = decodeBase64Png(body.mask.png);
    expect([png.height, png.width, body.mask.rows, body.mask.columns]).toEqual([256, 256, 256, 256]);
    expect(new Set(channel(png, 0))).toEqual(new Set(countLv(maskFromBase64Png(body.mask.png)) > 0 ? [0, 255] : [0]));
    const mask = maskFromBase64Png(body.mask.png);
    expect(mask).toEqual(libraryMask(dicom));

    const pixels = countLv(mask);
    expect(body.lvArea.pixels).toBe(pixels);
    expect(body.lvArea.mm2).toBeCloseTo(pixels * meta.pixelSpacingMm![0] * meta.pixelSpacingMm![1], 6);
    expect(body.lvArea.reason).toBeUndefined();
    // A whole-image model: found exactly when its mask is not empty, and no ROI.
    expect(body.lvFound).toBe(pixels > 0);
    expect(body.roi).toBeNull();

    const t = body.timings;
    for (const k of ['receiveMs', 'decodeMs', 'queueMs', 'inferenceMs', 'postprocessMs', 'totalMs']) expect(t[k]).toBeGreaterThanOrEqual(0);
    expect(t.inferenceMs).toBeGreaterThan(0);
    expect(t.batchSize).toBe(1);
    expect(t.totalMs).toBeGreaterThanOrEqual(t.decodeMs + t.inferenceMs + t.postprocessMs);
  });

  it('with the expert contour as label, Dice/Jaccard/pixel accuracy equal the libraries’ on the same mask', async () => {
    for (const c of [frame(), sunnybrookCases().find((x) => x.case === 'SCD0000101')!]) {
      const dicom = readDicom(c);
      const contour = readContour(c);
      const res = await request(app.url).post('/segment').attach('file', dicom, 'image.dcm').attach('label', Buffer.from(contour), 'icontour.txt').expect(200);
      const { rows, columns } = res.body.image;
      const truth = rasterizeContour(parseContour(contour), rows, columns);
      const pred = libraryMask(dicom);
      expect(maskFromBase64Png(res.body.mask.png)).toEqual(pred);
      expect(res.body.label).toEqual({ kind: 'contour', dice: dice(pred, truth), jaccard: jaccard(pred, truth), pixelAccuracy: pixelAccuracy(pred, truth), labelPixels: countLv(truth) });
    }
  });

  it('with the PNG twin of the expert label, the metrics are those of the contour (the rasters are identical)', async () => {
    const c = frame();
    const twin = pngTwinLabel(c);
    if (!twin) {
      // eslint-disable-next-line no-console
      console.warn('no sunnybrook-png twin for SCD0000401/100: PNG label checked with the rasterised contour only');
    }
    const contour = readContour(c);
    const truth = rasterizeContour(parseContour(contour), 256, 256);
    const pred = libraryMask(readDicom(c));
    const labelPng = twin ?? (await import('@lvseg/imaging')).encodeMaskPng(truth);
    const res = await request(app.url).post('/segment').attach('file', readDicom(c), 'image.dcm').attach('label', labelPng, 'label.png').expect(200);
    expect(res.body.label).toEqual({ kind: 'png', dice: dice(pred, truth), jaccard: jaccard(pred, truth), pixelAccuracy: pixelAccuracy(pred, truth), labelPixels: countLv(truth) });
  });

  it('answers heatmaps for every layer and Grad-CAM as PNGs at the image size, as the explain library renders them', async () => {
    const dicom = readDicom(frame());
    const res = await request(app.url).post('/segment?heatmaps=all&gradcam=conv4').set('Content-Type', 'application/dicom').send(dicom).expect(200);
    const image = decodeDicom(dicom).image;
    const layers = heatmapLayers('fcn-paper');
    expect(res.body.heatmaps.map((h: { layer: string }) => h.layer)).toEqual(layers);

    const expectedMaps = layerActivationMaps(reference, toModelInput(image), layers);
    res.body.heatmaps.forEach((h: { layer: string; layerShape: number[]; png: string; overlayPng: string }, k: number) => {
      const m = expectedMaps[k];
      expect(h.layerShape).toEqual([m.rows, m.columns, m.channels]);
      const heat = decodeBase64Png(h.png);
      const overlay = decodeBase64Png(h.overlayPng);
      expect([heat.height, heat.width, overlay.height, overlay.width]).toEqual([256, 256, 256, 256]);
      const rendered = renderHeatmap(m, image);
      expect(h.png).toBe(rendered.png.toString('base64'));
      expect(h.overlayPng).toBe(rendered.overlayPng.toString('base64'));
      // Not a flat picture: the activations vary over the image, and the overlay shows the anatomy under them.
      expect(distinctColours(heat)).toBeGreaterThan(20);
      expect(distinctColours(overlay)).toBeGreaterThan(distinctColours(heat));
    });

    const mask = maskFromBase64Png(res.body.mask.png);
    const cam = gradCam(reference, toModelInput(image), 'conv4', resizeMaskNearest(mask, MODEL_INPUT_SIZE, MODEL_INPUT_SIZE).data);
    const renderedCam = renderHeatmap(cam, image, { zeroBased: true });
    expect(res.body.gradcam).toEqual({
      layer: 'conv4',
      layerShape: [16, 16, 300],
      region: countLv(mask) > 0 ? 'predicted' : 'whole-image',
      png: renderedCam.png.toString('base64'),
      overlayPng: renderedCam.overlayPng.toString('base64'),
    });
    expect(distinctColours(decodeBase64Png(res.body.gradcam.png))).toBeGreaterThan(1);
    expect(res.body.timings.heatmapsMs).toBeGreaterThan(0);
    expect(res.body.timings.gradcamMs).toBeGreaterThan(0);
  });

  it('a comma list of heatmap layers answers just those, in network order', async () => {
    const res = await request(app.url).post('/segment?heatmaps=score,conv1').set('Content-Type', 'application/dicom').send(readDicom(frame())).expect(200);
    expect(res.body.heatmaps.map((h: { layer: string }) => h.layer)).toEqual(['conv1', 'score']);
    expect(res.body.gradcam).toBeUndefined();
  });

  it.each([
    [192, 160],
    [1024, 1024],
  ])('resamples a %i×%i image for the model and answers the mask at the image’s own size', async (rows, columns) => {
    const dicom = resampledDicom(readDicom(frame()), rows, columns);
    const { meta } = decodeDicom(dicom);
    const res = await request(app.url).post('/segment').set('Content-Type', 'application/dicom').send(dicom).expect(200);
    expect(res.body.image).toEqual({ rows, columns, pixelSpacingMm: meta.pixelSpacingMm, sopInstanceUid: meta.sopInstanceUid });
    const png = decodeBase64Png(res.body.mask.png);
    expect([png.height, png.width]).toEqual([rows, columns]);
    const mask = maskFromBase64Png(res.body.mask.png);
    expect(mask).toEqual(libraryMask(dicom));
    expect(res.body.lvArea.mm2).toBeCloseTo(countLv(mask) * meta.pixelSpacingMm![0] * meta.pixelSpacingMm![1], 6);
  });

  it('answers lvArea.mm2 null with a reason when the DICOM has no pixel spacing', async () => {
    const dicom = rewrittenDicom(readDicom(frame()), { omitTags: ['00280030'] });
    const res = await request(app.url).post('/segment').set('Content-Type', 'application/dicom').send(dicom).expect(200);
    expect(res.body.image.pixelSpacingMm).toBeNull();
    expect(res.body.lvArea).toEqual({ pixels: countLv(maskFromBase64Png(res.body.mask.png)), mm2: null, reason: expect.stringMatching(/PixelSpacing/) });
  });

  it('serves another version with ?model=, by id or alias, and 404s an unknown one', async () => {
    await store.setAlias('candidate', v2.version);
    const dicom = readDicom(frame());
    for (const ref of [v2.version, 'candidate']) {
      const res = await request(app.url).post(`/segment?model=${ref}`).set('Content-Type', 'application/dicom').send(dicom).expect(200);
      expect(res.body.model.version).toBe(v2.version);
    }
    const other = (await loadModelByRef(store, v2.version)).model;
    try {
      const res = await request(app.url).post('/segment?model=candidate').set('Content-Type', 'application/dicom').send(dicom).expect(200);
      expect(maskFromBase64Png(res.body.mask.png)).toEqual(segmentImages(other, [decodeDicom(dicom).image], DEFAULT_MASK_OPTIONS)[0].mask);
    } finally {
      other.dispose();
    }
    const missing = await request(app.url).post('/segment?model=no-such-alias').set('Content-Type', 'application/dicom').send(dicom).expect(404);
    expect(missing.body.error.code).toBe('MODEL_NOT_FOUND');
  });

  it('GET /models lists the versions and aliases; GET /models/:ref answers the card with its heatmap layers', async () => {
    const list = await request(app.url).get('/models').expect(200);
    expect(list.body.defaultRef).toBe('production');
    expect(list.body.servedVersion).toBe(v1.version);
    expect(list.body.aliases).toMatchObject({ production: v1.version });
    const byVersion = Object.fromEntries(list.body.models.map((m: { version: string }) => [m.version, m]));
    expect(byVersion[v1.version]).toMatchObject({ architecture: 'fcn-paper', aliases: ['production'], served: true, parameterCount: v1.parameterCount });
    expect(byVersion[v2.version]).toMatchObject({ served: false });

    const card = await request(app.url).get('/models/production').expect(200);
    expect(card.body).toEqual({ ...JSON.parse(JSON.stringify(await store.getCard(v1.version))), aliases: ['production'], heatmapLayers: heatmapLayers('fcn-paper'), served: true });
    const unknown = await request(app.url).get('/models/fcn-paper-20200101T000000-abcdef').expect(404);
    expect(unknown.body.error.code).toBe('MODEL_NOT_FOUND');
    const bad = await request(app.url).get('/models/bad%20ref').expect(400);
    expect(bad.body.error.code).toBe('MODEL_REF_INVALID');
  });

  it('serves Swagger UI at /docs and the OpenAPI document at /docs-json, with the response DTOs', async () => {
    const ui = await request(app.url).get('/docs').redirects(1).expect(200);
    expect(ui.text).toMatch(/swagger-ui/i);
    const doc = (await request(app.url).get('/docs-json').expect(200)).body;
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/health/live',
      '/health/ready',
      '/metrics',
      '/models',
      '/models/aliases/{alias}/promote',
      '/models/aliases/{alias}/rollback',
      '/models/{ref}',
      '/models/{ref}/files/{name}',
      '/runs',
      '/runs/{id}',
      '/runs/{id}/events',
      '/runs/{id}/heatmaps/{epoch}/{layer}.png',
      '/segment',
      '/segment/series',
    ]);
    const segment = doc.paths['/segment'].post;
    // A file upload under each content type (refineOpenApi), not a oneOf text box.
    expect(Object.keys(segment.requestBody.content).sort()).toEqual(['application/dicom', 'application/octet-stream', 'multipart/form-data']);
    expect(segment.requestBody.content['application/dicom'].schema).toMatchObject({ type: 'string', format: 'binary' });
    expect(segment.responses['415'].content['application/json'].example.error.code).toBe('DICOM_UNSUPPORTED_TRANSFER_SYNTAX');
    expect(segment.parameters.map((p: { name: string }) => p.name).sort()).toEqual(['gradcam', 'heatmaps', 'model']);
    expect(Object.keys(segment.responses).sort()).toEqual(['200', '400', '401', '403', '404', '413', '415', '422', '503']);
    expect(Object.keys(doc.components.schemas.SegmentResponseDto.properties).sort()).toEqual(['gradcam', 'heatmaps', 'image', 'label', 'lvArea', 'lvFound', 'mask', 'model', 'roi', 'timings']);
    expect(doc.components.schemas.ErrorResponseDto).toBeDefined();
  });

  it('exposes Prometheus metrics: requests and latency by route and status, inference time, the served version', async () => {
    await request(app.url).post('/segment').set('Content-Type', 'text/plain').send('x').expect(415);
    const text = (await request(app.url).get('/metrics').expect(200)).text;
    const value = (line: string) => Number(text.split('\n').find((l) => l.startsWith(line))?.split(' ').pop());
    expect(value('lvseg_http_requests_total{method="POST",route="/segment",status="200"}')).toBeGreaterThanOrEqual(5);
    expect(value('lvseg_http_requests_total{method="POST",route="/segment",status="415"}')).toBeGreaterThanOrEqual(1);
    expect(value('lvseg_http_request_duration_seconds_count{method="POST",route="/segment",status="200"}')).toBe(value('lvseg_http_requests_total{method="POST",route="/segment",status="200"}'));
    expect(text).toContain('lvseg_http_request_duration_seconds_bucket{le="0.05",method="POST",route="/segment",status="200"}');
    expect(value(`lvseg_model_info{version="${v1.version}",architecture="fcn-paper"}`)).toBe(1);
    expect(value(`lvseg_inference_duration_seconds_count{kind="segment",model_version="${v1.version}"}`)).toBeGreaterThanOrEqual(5);
    expect(value(`lvseg_inference_duration_seconds_count{kind="heatmaps",model_version="${v1.version}"}`)).toBeGreaterThanOrEqual(1);
    expect(value(`lvseg_inference_duration_seconds_count{kind="gradcam",model_version="${v1.version}"}`)).toBeGreaterThanOrEqual(1);
    expect(value('lvseg_inference_batch_size_count')).toBeGreaterThanOrEqual(5);
    expect(value('lvseg_tfjs_tensors')).toBe(tf.memory().numTensors);
  });

  it('logs one JSON line per request (id, status, ms, SOP Instance UID) and never a patient-identifying value', async () => {
    const phi = { patientName: 'DOE^JANE^Q', patientId: 'PID-SECRET-4711', patientBirthDate: '19450317', accessionNumber: 'ACC-99887766' };
    const dicom = rewrittenDicom(readDicom(frame()), { ...phi, sopInstanceUid: '2.25.4242424242' });
    const res = await request(app.url).post('/segment').set('Content-Type', 'application/dicom').set('x-request-id', 'e2e-phi-1').send(dicom).expect(200);
    await request(app.url).post('/segment?heatmaps=nope').set('Content-Type', 'application/dicom').set('x-request-id', 'e2e-phi-2').send(dicom).expect(400);
    await new Promise((r) => setTimeout(r, 50));
    const lines = app.logLines().filter((l) => l.event === 'request');
    const ok = lines.filter((l) => l.requestId === 'e2e-phi-1');
    expect(ok).toHaveLength(1);
    expect(ok[0]).toMatchObject({ status: 200, route: '/segment', modelVersion: v1.version, sopInstanceUid: '2.25.4242424242' });
    expect(typeof ok[0].ms).toBe('number');
    expect(lines.filter((l) => l.requestId === 'e2e-phi-2')).toEqual([expect.objectContaining({ status: 400, errorCode: 'UNKNOWN_LAYER' })]);
    const everything = app.logText() + JSON.stringify(res.body);
    for (const value of Object.values(phi)) expect(everything).not.toContain(value);
    expect(everything).not.toContain('DOE');
  });

  it('batches concurrent requests into shared forward passes, with the same masks as one library call', async () => {
    const batchApp = await startInferenceApp(store, { LVSEG_ENGINE: 'tfjs', LVSEG_BATCH_WINDOW_MS: '300', LVSEG_MAX_BATCH: '8' });
    try {
      await waitUntilReady(batchApp);
      const cases = sunnybrookCases().filter((c) => c.split === 'val').slice(0, 4);
      const dicoms = cases.map(readDicom);
      const answers = await Promise.all(dicoms.map((d) => request(batchApp.url).post('/segment').set('Content-Type', 'application/dicom').send(d)));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
      expect(answers.map((a) => a.body.timings.batchSize)).toEqual([4, 4, 4, 4]);
      const expected = segmentImages(reference, dicoms.map((d) => decodeDicom(d).image), DEFAULT_MASK_OPTIONS, 4);
      answers.forEach((a, k) => expect(maskFromBase64Png(a.body.mask.png)).toEqual(expected[k].mask));
    } finally {
      await batchApp.close();
    }
  });

  it('answers 503 with Retry-After once its queue is full, and serves the rest', async () => {
    // The first two wait out the longest batch window (1 s, the setting's maximum) for a batch that never fills, so
    // the other four find the queue full even when a busy machine spreads the six arrivals over most of a second.
    const small = await startInferenceApp(store, { LVSEG_QUEUE_SIZE: '2', LVSEG_BATCH_WINDOW_MS: '1000', LVSEG_MAX_BATCH: '8' });
    try {
      // The queue is what is under test: the model must be loaded first (MODEL_NOT_READY is another 503).
      await waitUntilReady(small);
      const dicom = readDicom(frame());
      const answers = await Promise.all(Array.from({ length: 6 }, () => request(small.url).post('/segment').set('Content-Type', 'application/dicom').send(dicom)));
      const statuses = answers.map((a) => a.status).sort();
      // Says which 503 it was when it fails.
      expect({ statuses, codes: answers.map((a) => a.body?.error?.code ?? null).sort() }).toEqual({ statuses: [200, 200, 503, 503, 503, 503], codes: ['QUEUE_FULL', 'QUEUE_FULL', 'QUEUE_FULL', 'QUEUE_FULL', null, null] });
      for (const a of answers.filter((x) => x.status === 503)) {
        expect(a.headers['retry-after']).toBe('1');
        expect(a.body).toEqual({ error: { code: 'QUEUE_FULL', message: expect.stringMatching(/queue is full/) } });
      }
      const text = (await request(small.url).get('/metrics').expect(200)).text;
      expect(text).toContain('lvseg_queue_rejections_total 4');
    } finally {
      await small.close();
    }
  });

  it('does not grow tfjs tensors across many requests (with and without explanations)', async () => {
    const dicoms = sunnybrookCases().slice(0, 6).map(readDicom);
    const send = (d: Buffer, q = '') => request(app.url).post(`/segment${q}`).set('Content-Type', 'application/dicom').send(d).expect(200);
    await send(dicoms[0]);
    const before = tf.memory().numTensors;
    for (let round = 0; round < 5; round++) await Promise.all(dicoms.map((d) => send(d)));
    await send(dicoms[1], '?heatmaps=conv2,score&gradcam=score');
    await request(app.url).post('/segment').set('Content-Type', 'application/dicom').send(Buffer.from('not a dicom')).expect(422);
    expect(tf.memory().numTensors).toBe(before);
  });
});
