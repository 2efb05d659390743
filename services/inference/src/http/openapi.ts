import type { OpenAPIObject } from '@nestjs/swagger';

/** One example error body per status: what a caller of /docs sees before trying (codes the service really answers). */
export const ERROR_EXAMPLES: Record<string, { code: string; message: string }> = {
  '400': { code: 'UNKNOWN_LAYER', message: 'gradcam: unknown layer conv9; valid layers: localiser.enc1, …, segmenter.score' },
  '401': { code: 'AUTH_REQUIRED', message: 'this route needs a credential: Authorization: Bearer <API key>' },
  '403': { code: 'AUTH_SCOPE_MISSING', message: 'this route needs the scope lvseg:segment; the key "reader" has lvseg:read' },
  '404': { code: 'MODEL_NOT_FOUND', message: 'no model version or alias named staging' },
  '409': { code: 'MODEL_BELOW_DICE_BAR', message: 'refusing to point production at unet-small-20261202T060448-e82302: val Dice 0.7912, the bar is 0.8; use force to override' },
  '413': { code: 'IMAGE_TOO_LARGE', message: 'the image is 2048×2048; this service takes images up to 1024×1024' },
  '415': { code: 'DICOM_UNSUPPORTED_TRANSFER_SYNTAX', message: 'unsupported transfer syntax 1.2.840.10008.1.2.4.102 (MPEG-4 AVC/H.264 High Profile); lvseg reads uncompressed …' },
  '422': { code: 'DICOM_TRUNCATED', message: 'DICOM file is truncated inside element (7FE0,0010)' },
  '429': { code: 'RATE_LIMITED', message: 'over 600 requests a minute for this key; retry later' },
  '503': { code: 'QUEUE_FULL', message: 'the inference queue is full (32 requests); retry shortly' },
};

const BINARY = { type: 'string', format: 'binary' } as const;

type Operation = { requestBody?: { content?: Record<string, unknown> }; responses?: Record<string, { content?: Record<string, { schema?: unknown; example?: unknown }> }> };

/**
 * What @nestjs/swagger's decorators cannot say on their own, fixed once on the generated document: POST /segment
 * takes a file under each of its content types (Swagger UI then shows an upload button, not a text box for a
 * `oneOf`), and each error status shows an example of its own instead of one shared example.
 */
export function refineOpenApi(document: OpenAPIObject): OpenAPIObject {
  const segment = document.paths['/segment']?.post as Operation | undefined;
  if (segment) {
    segment.requestBody = {
      ...(segment.requestBody ?? {}),
      content: {
        'application/dicom': { schema: { ...BINARY, description: 'DICOM Part 10 file (or a bare data set)' } },
        'application/octet-stream': { schema: { ...BINARY, description: 'DICOM Part 10 file, as application/dicom' } },
        'multipart/form-data': {
          schema: {
            type: 'object',
            required: ['file'],
            properties: {
              file: { ...BINARY, description: 'DICOM Part 10 file' },
              label: { ...BINARY, description: 'PNG mask (non-zero = LV) or Sunnybrook contour file ("x y" per line)' },
            },
          },
        },
      },
    };
  }
  for (const item of Object.values(document.paths)) {
    for (const op of Object.values(item) as Operation[]) {
      for (const [status, response] of Object.entries(op?.responses ?? {})) {
        const example = ERROR_EXAMPLES[status];
        const json = response?.content?.['application/json'];
        if (example && json) json.example = { error: example };
      }
    }
  }
  return document;
}
