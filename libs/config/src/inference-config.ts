import type { ENGINES, LOG_LEVELS } from './schema';

/** Settings of the inference service (`services/inference`), on top of the shared ones. */
export interface InferenceSettings {
  /** TCP port (`PORT`, default 3000). */
  port: number;
  /**
   * Interface to listen on (`LVSEG_HOST`); undefined = every interface. With no authentication configured it is
   * 127.0.0.1 unless `LVSEG_ALLOW_ANONYMOUS=true` (see auth-config).
   */
  host?: string;
  /** Largest accepted request body in bytes (`LVSEG_MAX_BODY_MB`, default 16 MiB); larger → 413. */
  maxBodyBytes: number;
  /** Largest accepted image side in pixels (`LVSEG_MAX_IMAGE_SIDE`, default 1024); larger → 413. */
  maxImageSide: number;
  /** Requests waiting or running at once (`LVSEG_QUEUE_SIZE`, default 32); one more → 503 with Retry-After. */
  queueSize: number;
  /** How long the first request of a batch waits for others (`LVSEG_BATCH_WINDOW_MS`, default 2). */
  batchWindowMs: number;
  /** Most images in one forward pass (`LVSEG_MAX_BATCH`, default 8). */
  maxBatchSize: number;
  /** How often the served alias is re-read from the store (`LVSEG_ALIAS_POLL_SECONDS`, default 10). */
  aliasPollSeconds: number;
  /** The alias or version served when a request names none (`LVSEG_SERVE_MODEL`, default `production`). */
  defaultModelRef: string;
  /** Models other than the default kept loaded for `?model=` requests (`LVSEG_EXTRA_MODELS`, default 2). */
  extraModels: number;
  /** Most DICOMs in one POST /segment/series (`LVSEG_SERIES_MAX_FILES`, default 400); more → 413. Each file is held to `maxBodyBytes`. */
  seriesMaxFiles: number;
  /** Most bytes of all parts of one POST /segment/series together (`LVSEG_SERIES_MAX_MB`, default 128 MiB); more → 413. */
  seriesMaxBytes: number;
  /** pino level (`LOG_LEVEL`, default `info`). */
  logLevel: (typeof LOG_LEVELS)[number];
  /** Folder of the built browser pages served at `/` (`LVSEG_WEB_DIR`, default `<repo>/dist/services/inference/web`). */
  webDir: string;
}

/** Which runtime serves the mask path (`LVSEG_ENGINE`, default auto), and its threads (`LVSEG_ORT_THREADS`, default DEFAULT_ORT_THREADS). */
export interface EngineSettings {
  engine: (typeof ENGINES)[number];
  ortThreads: number;
  /**
   * The onnx engine serves a version carrying `int8-calibration.json` as INT8 graphs (`LVSEG_ONNX_INT8=on`, the
   * default), or in float like tfjs (`off`). Unset here = on.
   */
  onnxInt8?: boolean;
}


