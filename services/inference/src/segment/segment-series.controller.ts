import { Controller, HttpCode, Post, Query, Req, Res, UseInterceptors } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiExtraModels, ApiOkResponse, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { SCOPES } from '@lvseg/config';
import { RequireScope } from '../auth/route-access';
import { ErrorResponseDto } from './dto/segment-response.dto';
import { SeriesResponseDto } from './dto/series-response.dto';
import { SegmentSeriesService } from './segment-series.service';
import { parseSegmentQuery } from './segment-request';
import { SERIES_FILES_FIELD, SERIES_LABELS_FIELD, SERIES_QUERY_KEYS, SeriesPart } from './series-request';
import { SeriesUploadInterceptor } from './series-upload.interceptor';

@ApiTags('segmentation')
@ApiExtraModels(ErrorResponseDto)
@RequireScope(SCOPES.segment)
@Controller('segment')
export class SegmentSeriesController {
  constructor(private readonly series: SegmentSeriesService) {}

  @Post('series')
  @HttpCode(200)
  @UseInterceptors(SeriesUploadInterceptor)
  @ApiOperation({
    summary: 'Segment one short-axis series and measure LV volumes and ejection fraction',
    description:
      'Send the DICOMs of ONE series (slices × cine phases) as repeated multipart/form-data file parts `files`, optionally with expert labels as ' +
      'repeated file parts `labels` (a PNG mask, non-zero = LV, or a Sunnybrook contour file), each paired with the DICOM of the same base name ' +
      '(`100.dcm` ↔ `100.txt` or `100.png`). The series is segmented in one engine call (a cascade model uses the series’ consensus LV position). ' +
      'Frames are placed in slices (ImagePositionPatient along the plane normal, else SliceLocation) and phases (TriggerTime, else InstanceNumber ' +
      'order); EDV/ESV by disc summation, ED = phase of largest summed LV area, ES = smallest, SV = EDV − ESV, EF = SV / EDV as a fraction. ' +
      'With labels, `comparison` holds the expert’s values from the labels of the same frames, by the same rule, and model − expert.',
  })
  @ApiConsumes('multipart/form-data')
  @ApiBody({
    schema: {
      type: 'object',
      required: [SERIES_FILES_FIELD],
      properties: {
        [SERIES_FILES_FIELD]: { type: 'array', items: { type: 'string', format: 'binary' }, description: 'The DICOM Part 10 files of one series (repeat the part)' },
        [SERIES_LABELS_FIELD]: {
          type: 'array',
          items: { type: 'string', format: 'binary' },
          description: 'Optional labels (PNG mask or Sunnybrook contour), each named like its DICOM with another extension',
        },
      },
    },
  })
  @ApiQuery({ name: 'model', required: false, description: 'Model version id or alias; default: the served alias (production)' })
  @ApiOkResponse({ type: SeriesResponseDto })
  @ApiResponse({
    status: 400,
    type: ErrorResponseDto,
    description:
      'MISSING_FILES (no `files` part), UNEXPECTED_FIELD (another part or a text field), MULTIPART_MALFORMED, SERIES_LABEL_WITHOUT_DICOM, SERIES_DUPLICATE_LABEL, ' +
      'SERIES_DUPLICATE_FILE_NAME (with labels), UNKNOWN_QUERY_PARAMETER, EMPTY_BODY (an empty part)',
  })
  @ApiResponse({ status: 404, type: ErrorResponseDto, description: 'Unknown model version or alias' })
  @ApiResponse({
    status: 413,
    type: ErrorResponseDto,
    description: 'SERIES_TOO_MANY_FILES (over LVSEG_SERIES_MAX_FILES), FILE_TOO_LARGE (a part over LVSEG_MAX_BODY_MB), SERIES_TOO_LARGE (all parts over LVSEG_SERIES_MAX_MB), IMAGE_TOO_LARGE',
  })
  @ApiResponse({ status: 415, type: ErrorResponseDto, description: 'Not multipart/form-data; compressed transfer syntax, multi-frame or colour DICOM' })
  @ApiResponse({
    status: 422,
    type: ErrorResponseDto,
    description:
      'A part that is not DICOM (DICOM_NOT_PART10 and the other DICOM_ codes, naming the part), DICOM_MIXED_SERIES, DICOM_DUPLICATE_INSTANCE, a label unreadable or of ' +
      'another size (LABEL_/CONTOUR_/PNG_), and a stack with no LV function: LV_MIXED_ORIENTATION, LV_SINGLE_PHASE, LV_NO_SLICE_POSITION, LV_IRREGULAR_SLICE_SPACING, LV_DUPLICATE_FRAME',
  })
  @ApiResponse({ status: 503, type: ErrorResponseDto, description: 'Queue full or no model loaded yet (Retry-After set)' })
  async segmentSeries(@Req() req: Request, @Res({ passthrough: true }) res: Response, @Query() query: Record<string, unknown>): Promise<SeriesResponseDto> {
    const receivedAt = typeof res.locals.receivedAt === 'number' ? res.locals.receivedAt : performance.now();
    const parsedQuery = parseSegmentQuery(query, SERIES_QUERY_KEYS);
    const parts = (Array.isArray(req.files) ? req.files : []) as Express.Multer.File[];
    const of = (field: string): SeriesPart[] => parts.filter((p) => p.fieldname === field).map((p) => ({ fileName: p.originalname, bytes: p.buffer }));
    return this.series.segmentSeries({ files: of(SERIES_FILES_FIELD), labels: of(SERIES_LABELS_FIELD), query: parsedQuery, receivedAt }, res.locals);
  }
}
