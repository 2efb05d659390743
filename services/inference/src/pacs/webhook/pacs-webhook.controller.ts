import { Controller, HttpCode, Post, Req, Res, UseFilters } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiProperty, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { PublicRoute } from '../../auth/route-access';
import { ErrorResponseDto } from '../../segment/dto/segment-response.dto';
import { PacsWebhookService } from './pacs-webhook.service';
import { readRawBody } from './raw-body';
import { WebhookAuthFilter } from './webhook-auth.filter';

export class WebhookAcceptedDto {
  @ApiProperty({ description: 'The job of the event’s series (GET /jobs/:id)' })
  jobId!: string;

  @ApiProperty({ enum: ['waiting-for-series', 'queued', 'running', 'retrying', 'done', 'skipped', 'failed'] })
  state!: string;

  @ApiProperty({ description: 'True when the event joined a job already open for its series' })
  joined!: boolean;
}

@ApiTags('pacs')
// The PACS authenticates each event with its HMAC signature (PACS_WEBHOOK_SECRET, checked by PacsWebhookService):
// body-bound and replay-proof, it is the PACS's credential for segmenting its own series.
@PublicRoute('signed with PACS_WEBHOOK_SECRET instead of a bearer credential')
@Controller('webhooks')
@UseFilters(WebhookAuthFilter)
export class PacsWebhookController {
  constructor(private readonly webhooks: PacsWebhookService) {}

  @Post('pacs')
  @HttpCode(202)
  @ApiOperation({
    summary: 'A PACS event (instance stored, series stable): segment the series in the background and store a DICOM SEG into the study',
    description:
      'Body: JSON `{ id, kind: "instance.stored"|"series.stable", resource: { studyInstanceUid, seriesInstanceUid, sopInstanceUid?, modality?, pacsId? } }`. ' +
      'Signed: `X-Lvseg-Signature: sha256=<hex HMAC-SHA256(PACS_WEBHOOK_SECRET, X-Lvseg-Timestamp + "." + raw body)>`, timestamp within 5 minutes, each event id once.',
  })
  @ApiHeader({ name: 'X-Lvseg-Timestamp', required: true, description: 'unix time, seconds' })
  @ApiHeader({ name: 'X-Lvseg-Signature', required: true, description: 'sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>' })
  @ApiResponse({ status: 202, type: WebhookAcceptedDto })
  @ApiResponse({ status: 400, type: ErrorResponseDto, description: 'the event is not valid JSON of the documented shape' })
  @ApiResponse({ status: 401, type: ErrorResponseDto, description: 'missing or wrong signature, or a timestamp older (or newer) than 5 minutes' })
  @ApiResponse({ status: 409, type: ErrorResponseDto, description: 'this event id was already received (replay)' })
  async receive(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<WebhookAcceptedDto> {
    const accepted = await this.webhooks.accept(await readRawBody(req), req.headers);
    res.setHeader('Location', `/jobs/${accepted.jobId}`);
    return accepted;
  }
}
