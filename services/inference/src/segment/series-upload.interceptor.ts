import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor } from '@nestjs/common';
import type { Request, Response } from 'express';
import multer from 'multer';
import type { Observable } from 'rxjs';
import { LvsegError } from '@lvseg/common';
import type { InferenceConfig } from '@lvseg/config';
import { INFERENCE_CONFIG } from '../tokens';
import {
  SERIES_FILES_FIELD,
  SERIES_LABELS_FIELD,
  SeriesUploadLimits,
  assertDeclaredLength,
  seriesTooLarge,
  shownName,
  tooManyFiles,
  unexpectedField,
  uploadErrorToLvseg,
} from './series-request';

/** Counts of one request's upload so far, for the limits that span parts. */
interface UploadTally {
  bytes: number;
  files: number;
  labels: number;
}

/**
 * Parts kept in memory for the request only, counted against the series' total as they stream in: the part that
 * crosses the total stops the upload (413) instead of being read to its end.
 */
function tallyingMemoryStorage(tally: UploadTally, limits: SeriesUploadLimits): multer.StorageEngine {
  return {
    _handleFile(_req, file, cb) {
      const chunks: Buffer[] = [];
      let size = 0;
      let stopped = false;
      const onData = (chunk: Buffer) => {
        tally.bytes += chunk.length;
        if (tally.bytes > limits.maxTotalBytes) {
          stopped = true;
          file.stream.removeListener('data', onData);
          file.stream.resume();
          cb(seriesTooLarge(limits));
          return;
        }
        chunks.push(chunk);
        size += chunk.length;
      };
      file.stream.on('data', onData);
      file.stream.once('end', () => {
        if (!stopped) cb(null, { buffer: Buffer.concat(chunks, size), size });
      });
    },
    _removeFile(_req, file, cb) {
      delete (file as Partial<Express.Multer.File>).buffer;
      cb(null);
    },
  };
}

/**
 * Reads a POST /segment/series body: multipart/form-data only (415 otherwise), file parts `files` (DICOMs) and
 * `labels`, nothing else (400); at most `LVSEG_SERIES_MAX_FILES` of each, each at most `LVSEG_MAX_BODY_MB`, all together
 * at most `LVSEG_SERIES_MAX_MB` (413, stopped as soon as crossed). Leaves the parts in `req.files`, in upload order.
 */
@Injectable()
export class SeriesUploadInterceptor implements NestInterceptor {
  private readonly limits: SeriesUploadLimits;

  constructor(@Inject(INFERENCE_CONFIG) config: InferenceConfig) {
    this.limits = { maxFiles: config.inference.seriesMaxFiles, maxFileBytes: config.inference.maxBodyBytes, maxTotalBytes: config.inference.seriesMaxBytes };
  }

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const http = context.switchToHttp();
    const req = http.getRequest<Request>();
    const res = http.getResponse<Response>();
    if (!req.is('multipart/form-data')) {
      const given = req.headers['content-type'];
      throw new LvsegError(
        'unsupported',
        'UNSUPPORTED_MEDIA_TYPE',
        `${given ? `content type ${JSON.stringify(given.slice(0, 80))} is` : 'a request without a content type is'} not accepted: send multipart/form-data with the DICOMs as "${SERIES_FILES_FIELD}" parts (and optional "${SERIES_LABELS_FIELD}")`,
      );
    }
    assertDeclaredLength(req.headers['content-length'], this.limits);
    const limits = this.limits;
    const tally: UploadTally = { bytes: 0, files: 0, labels: 0 };
    const upload = multer({
      storage: tallyingMemoryStorage(tally, limits),
      // Multer's own counts are a backstop; the filter below names which limit was crossed.
      limits: { fileSize: limits.maxFileBytes, files: 2 * limits.maxFiles, parts: 2 * limits.maxFiles + 2, fields: 0 },
      fileFilter(_req, file, cb) {
        if (file.fieldname === SERIES_FILES_FIELD) {
          if (++tally.files > limits.maxFiles) return cb(tooManyFiles(limits, SERIES_FILES_FIELD));
        } else if (file.fieldname === SERIES_LABELS_FIELD) {
          if (++tally.labels > limits.maxFiles) return cb(tooManyFiles(limits, SERIES_LABELS_FIELD));
        } else {
          return cb(unexpectedField(`unexpected part ${shownName(file.fieldname)}`));
        }
        cb(null, true);
      },
    }).any();
    await new Promise<void>((resolve, reject) => upload(req, res, (err?: unknown) => (err ? reject(uploadErrorToLvseg(err, limits)) : resolve())));
    return next.handle();
  }
}
