import { Controller, Get, Inject, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { LvsegError } from '@lvseg/common';
import { SCOPES } from '@lvseg/config';
import { RequireScope } from '../../auth/route-access';
import { ErrorResponseDto } from '../../segment/dto/segment-response.dto';
import type { PacsJobView } from './pacs-job';
import { SERIES_JOB_QUEUE, SeriesJobQueue, SeriesQueueSummary } from '../queue/series-job-queue';

/** A DICOM UID (PS3.5 9.1): digits and dots, at most 64 characters. */
const UID = /^[0-9]+(\.[0-9]+)*$/;
const MAX_LIMIT = 500;

/** The query of GET /jobs, validated (400 INVALID_JOB_QUERY naming the parameter). */
export function parseJobQuery(query: Record<string, unknown>): { study?: string; series?: string; limit: number } {
  const text = (name: string): string | undefined => {
    const v = query[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.length > 64 || !UID.test(v)) throw new LvsegError('invalid-input', 'INVALID_JOB_QUERY', `${name} must be a DICOM UID (digits and dots, at most 64 characters)`);
    return v;
  };
  const unknown = Object.keys(query).filter((k) => !['study', 'series', 'limit'].includes(k));
  if (unknown.length) throw new LvsegError('invalid-input', 'INVALID_JOB_QUERY', `unknown query parameter ${unknown[0]} (study, series, limit)`);
  let limit = 50;
  if (query.limit !== undefined) {
    limit = Number(query.limit);
    if (typeof query.limit !== 'string' || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new LvsegError('invalid-input', 'INVALID_JOB_QUERY', `limit must be an integer from 1 to ${MAX_LIMIT}`);
  }
  return { study: text('study'), series: text('series'), limit };
}

@ApiTags('pacs')
@RequireScope(SCOPES.read)
@Controller('jobs')
export class PacsJobsController {
  constructor(@Inject(SERIES_JOB_QUEUE) private readonly jobs: SeriesJobQueue) {}

  @Get()
  @ApiOperation({
    summary: 'PACS jobs of a study and/or series (StudyInstanceUID, SeriesInstanceUID of the source MR series), newest first; records survive restarts (state folder)',
  })
  @ApiQuery({ name: 'study', required: false, description: 'StudyInstanceUID' })
  @ApiQuery({ name: 'series', required: false, description: 'SeriesInstanceUID of the source series' })
  @ApiQuery({ name: 'limit', required: false, description: `at most this many (1–${MAX_LIMIT}, default 50)` })
  @ApiOkResponse({
    description:
      '{ jobs: [...] as GET /jobs/:id answers each }; without study and series also queue: { mode: in-process|redis, counts: { waiting, active, delayed, completed, failed }, queue?: { name, rateLimit, attempts } }',
  })
  @ApiResponse({ status: 400, type: ErrorResponseDto, description: 'INVALID_JOB_QUERY' })
  async list(@Query() query: Record<string, unknown>): Promise<{ jobs: PacsJobView[]; queue?: SeriesQueueSummary }> {
    const filter = parseJobQuery(query);
    // The queue's counts describe the whole queue: given only to the unfiltered listing (a study's or series' answer stays { jobs }).
    if (filter.study !== undefined || filter.series !== undefined) return { jobs: await this.jobs.list(filter) };
    const [jobs, queue] = await Promise.all([this.jobs.list(filter), this.jobs.summary()]);
    return { jobs, queue };
  }

  @Get(':id')
  @ApiOperation({
    summary: 'A PACS job: state (waiting-for-series, queued, running, retrying, done, skipped, failed), triggers, and the result (SEG UIDs, LV area per image, skip reason, timings); with the Redis queue also its model version, progress, worker and stalls (id: <SeriesInstanceUID>@<model version>)',
  })
  @ApiOkResponse({ description: 'the job' })
  @ApiResponse({ status: 404, type: ErrorResponseDto, description: 'no such job' })
  get(@Param('id') id: string): Promise<PacsJobView> {
    return this.jobs.get(id);
  }
}
