import { Controller, Get, Param } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { SCOPES } from '@lvseg/config';
import { RequireScope } from '../../auth/route-access';
import { ErrorResponseDto } from '../../segment/dto/segment-response.dto';
import type { PacsJobView } from './pacs-job';
import { PacsJobsService } from './pacs-jobs.service';

@ApiTags('pacs')
@RequireScope(SCOPES.read)
@Controller('jobs')
export class PacsJobsController {
  constructor(private readonly jobs: PacsJobsService) {}

  @Get(':id')
  @ApiOperation({
    summary: 'A PACS job: state (waiting-for-series, queued, running, retrying, done, skipped, failed), triggers, and the result (SEG UIDs, LV area per image, skip reason, timings)',
  })
  @ApiOkResponse({ description: 'the job' })
  @ApiResponse({ status: 404, type: ErrorResponseDto, description: 'no such job' })
  get(@Param('id') id: string): PacsJobView {
    return this.jobs.get(id);
  }
}
