/**
 * Stage 3, predict: the engine's forward pass (preprocessing, network, mask post-processing: libs/model, the same
 * code `lvseg eval` runs), always through the one inference queue, so POST /segment, POST /segment/series and the
 * PACS path share one bounded engine lane and concurrent single images share a batch.
 */
import { isLvsegError } from '@lvseg/common';
import type { BinaryMask, GrayImage } from '@lvseg/imaging';
import type { GradCamMap, LayerMap } from '@lvseg/model';
import type { ImageSegmentation } from '../../engine/segmentation-engine';
import type { ModelHandle } from '../../models/model-handle';
import { InferenceQueue, SegmentOutcome, TaskOutcome } from '../inference-queue';

/** How long a caller that waits out a full queue (`waitWhenFull`) tries, and how it backs off. */
export const FULL_QUEUE_ATTEMPTS = 20;
const backoffMs = (attempt: number): number => Math.min(2000, 100 * attempt);

export class PredictStage {
  constructor(private readonly queue: InferenceQueue) {}

  /** One image, batched with concurrent requests for the same model. */
  image(handle: ModelHandle, image: GrayImage): Promise<SegmentOutcome> {
    return this.queue.segment(handle, image);
  }

  /**
   * The images of one series in one engine call (a cascade places each ROI with the series' consensus LV position).
   * With `waitWhenFull` a full queue (QUEUE_FULL) is waited out with a backoff instead of refused.
   */
  async series(handle: ModelHandle, images: GrayImage[], opts: { waitWhenFull?: boolean } = {}): Promise<TaskOutcome<ImageSegmentation[]>> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.queue.run(handle, 'series', () => handle.engine.segment(images, { series: true }));
      } catch (e) {
        if (!opts.waitWhenFull || !isLvsegError(e) || e.code !== 'QUEUE_FULL' || attempt >= FULL_QUEUE_ATTEMPTS) throw e;
        await new Promise((resolve) => setTimeout(resolve, backoffMs(attempt)));
      }
    }
  }

  /** Channel-mean activation maps of the named layers for one image. */
  heatmaps(handle: ModelHandle, image: GrayImage, layers: string[]): Promise<TaskOutcome<LayerMap[]>> {
    return this.queue.run(handle, 'heatmaps', () => handle.engine.activationMaps(image, layers));
  }

  /** Grad-CAM of the LV class over the predicted mask at `layer`. */
  gradCam(handle: ModelHandle, image: GrayImage, layer: string, mask: BinaryMask): Promise<TaskOutcome<GradCamMap>> {
    return this.queue.run(handle, 'gradcam', () => handle.engine.gradCam(image, layer, mask));
  }

  /** Refuses new work (shutdown); work already queued still runs. */
  close(): void {
    this.queue.close();
  }
}
