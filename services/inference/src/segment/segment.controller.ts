import { Controller, HttpCode, Post, Query, Req, Res, UploadedFiles, UseInterceptors } from '@nestjs/common';
import { FileFieldsInterceptor } from '@nestjs/platform-express';
import { ApiBody, ApiConsumes, ApiExtraModels, ApiOkResponse, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { LvsegError } from '@lvseg/common';
import { SCOPES } from '@lvseg/config';
import { RequireScope } from '../auth/route-access';
import { ErrorResponseDto, SegmentResponseDto } from './dto/segment-response.dto';
import { SegmentService } from './segment.service';
import { parseSegmentQuery } from './segment-request';

/** Content types of a raw DICOM body (curl --data-binary @x.dcm -H 'Content-Type: application/dicom'). */
export const RAW_DICOM_TYPES = ['application/dicom', 'application/octet-stream'];

type UploadedParts = { file?: Express.Multer.File[]; label?: Express.Multer.File[] };

@ApiTags('segmentation')
@ApiExtraModels(ErrorResponseDto)
@RequireScope(SCOPES.segment)
@Controller()
export class SegmentController {
  constructor(private readonly segmentation: SegmentService) {}

  @Post('segment')
  @HttpCode(200)
  @UseInterceptors(FileFieldsInterceptor([{ name: 'file', maxCount: 1 }, { name: 'label', maxCount: 1 }]))
  @ApiOperation({
    summary: 'Segment the left ventricle in one MR image',
    description:
      'Send the DICOM as the raw body (Content-Type application/dicom or application/octet-stream), or as multipart/form-data field `file`, ' +
      'optionally with `label` (a PNG mask, non-zero = LV, or a Sunnybrook contour text file) to get Dice, Jaccard and pixel accuracy. ' +
      'Images of any size up to the configured limit (default 1024×1024) are resampled for the model; the mask comes back at the image’s own size.',
  })
  // The per-content-type schemas (a file upload in /docs) are set on the document by refineOpenApi.
  @ApiConsumes('application/dicom', 'application/octet-stream', 'multipart/form-data')
  @ApiBody({
    schema: {
      oneOf: [
        { type: 'string', format: 'binary', description: 'DICOM Part 10 file (application/dicom)' },
        {
          type: 'object',
          required: ['file'],
          properties: {
            file: { type: 'string', format: 'binary', description: 'DICOM Part 10 file' },
            label: { type: 'string', format: 'binary', description: 'PNG mask (non-zero = LV) or Sunnybrook contour file ("x y" per line)' },
          },
        },
      ],
    },
  })
  @ApiQuery({ name: 'model', required: false, description: 'Model version id or alias; default: the served alias (production)' })
  @ApiQuery({ name: 'heatmaps', required: false, description: '"all" or a comma list of layer names (see GET /models/{ref}); unknown names → 400 listing the valid ones' })
  @ApiQuery({ name: 'gradcam', required: false, description: 'A layer name: Grad-CAM of the LV class over the predicted region at that layer' })
  @ApiOkResponse({ type: SegmentResponseDto })
  @ApiResponse({ status: 400, type: ErrorResponseDto, description: 'Bad query (unknown layer, unknown parameter, malformed model ref), empty body, missing `file` field' })
  @ApiResponse({ status: 404, type: ErrorResponseDto, description: 'Unknown model version or alias' })
  @ApiResponse({ status: 413, type: ErrorResponseDto, description: 'Body over the size limit, or image larger than the configured maximum side' })
  @ApiResponse({ status: 415, type: ErrorResponseDto, description: 'Wrong content type; compressed transfer syntax (named), multi-frame or colour DICOM' })
  @ApiResponse({ status: 422, type: ErrorResponseDto, description: 'Not DICOM, truncated, no pixel data, damaged attributes; label unreadable or of another size than the image' })
  @ApiResponse({ status: 503, type: ErrorResponseDto, description: 'Queue full or no model loaded yet (Retry-After set); model refused (integrity)' })
  async segment(@Req() req: Request, @Res({ passthrough: true }) res: Response, @Query() query: Record<string, unknown>, @UploadedFiles() parts?: UploadedParts): Promise<SegmentResponseDto> {
    const receivedAt = typeof res.locals.receivedAt === 'number' ? res.locals.receivedAt : performance.now();
    const parsedQuery = parseSegmentQuery(query);
    const { dicom, label } = this.bodyParts(req, parts);
    return this.segmentation.segment({ dicom, label, query: parsedQuery, receivedAt }, res.locals);
  }

  private bodyParts(req: Request, parts: UploadedParts | undefined): { dicom: Buffer; label?: Buffer } {
    if (req.is('multipart/form-data')) {
      const file = parts?.file?.[0];
      if (!file) throw new LvsegError('invalid-input', 'MISSING_FILE', 'multipart request has no `file` part: send the DICOM as form field "file"');
      if (file.size === 0) throw new LvsegError('invalid-input', 'EMPTY_BODY', 'the `file` part is empty');
      const fileLabel = parts?.label?.[0]?.buffer;
      const textLabel = typeof (req.body as Record<string, unknown> | undefined)?.label === 'string' ? Buffer.from((req.body as { label: string }).label, 'latin1') : undefined;
      return { dicom: file.buffer, label: fileLabel ?? textLabel };
    }
    if (req.is(RAW_DICOM_TYPES)) {
      const body = req.body as unknown;
      if (!Buffer.isBuffer(body) || body.length === 0) throw new LvsegError('invalid-input', 'EMPTY_BODY', 'the request body is empty: send the DICOM file as the body');
      return { dicom: body };
    }
    const given = req.headers['content-type'];
    throw new LvsegError(
      'unsupported',
      'UNSUPPORTED_MEDIA_TYPE',
      `${given ? `content type ${JSON.stringify(given.slice(0, 80))} is` : 'a request without a content type is'} not accepted: send application/dicom (the raw file) or multipart/form-data (field "file", optional "label")`,
    );
  }
}
