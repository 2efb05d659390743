import { Controller, Get, MessageEvent, Param, Res, Sse, StreamableFile } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import type { Observable } from 'rxjs';
import { SCOPES } from '@lvseg/config';
import { RequireScope } from '../auth/route-access';
import { ErrorResponseDto } from '../segment/dto/segment-response.dto';
import { RunDetailDto, RunListDto } from './dto/run.dto';
import { RunsService } from './runs.service';

@ApiTags('runs')
@RequireScope(SCOPES.read)
@Controller('runs')
export class RunsController {
  constructor(private readonly runs: RunsService) {}

  @Get()
  @ApiOperation({ summary: 'Training runs (newest first) with status and latest epoch' })
  @ApiOkResponse({ type: RunListDto })
  @ApiResponse({ status: 503, type: ErrorResponseDto, description: 'The store is unavailable' })
  async list(): Promise<RunListDto> {
    return { runs: await this.runs.list() };
  }

  @Get(':id')
  @ApiOperation({ summary: 'One training run: its record, every recorded epoch, and which epochs have heatmaps' })
  @ApiParam({ name: 'id', example: 'run-20261202T071500-ab12cd' })
  @ApiOkResponse({ type: RunDetailDto })
  @ApiResponse({ status: 400, type: ErrorResponseDto, description: 'Malformed run id' })
  @ApiResponse({ status: 404, type: ErrorResponseDto, description: 'No such run' })
  get(@Param('id') id: string): Promise<RunDetailDto> {
    return this.runs.get(id);
  }

  @Get(':id/heatmaps/:epoch/:layer.png')
  @ApiOperation({ summary: "One layer's activation heatmap of the run's fixed val image at one epoch (PNG)" })
  @ApiParam({ name: 'epoch', example: 5 })
  @ApiParam({ name: 'layer', example: 'enc1', description: "One of the run's layers" })
  @ApiProduces('image/png')
  @ApiOkResponse({ description: 'PNG image', schema: { type: 'string', format: 'binary' } })
  @ApiResponse({ status: 400, type: ErrorResponseDto, description: 'Malformed id or epoch, or a layer the run does not record' })
  @ApiResponse({ status: 404, type: ErrorResponseDto, description: 'No such run, or no heatmaps at that epoch' })
  async heatmap(@Param('id') id: string, @Param('epoch') epoch: string, @Param('layer') layer: string, @Res({ passthrough: true }) res: Response): Promise<StreamableFile> {
    const png = await this.runs.heatmap(id, epoch, layer);
    // Set only on success (an error answer must not be cached); a recorded heatmap never changes.
    res.setHeader('Cache-Control', 'public, max-age=3600');
    return new StreamableFile(png, { type: 'image/png', length: png.length });
  }

  @Sse(':id/events')
  @ApiOperation({
    summary: 'Live server-sent events of a run',
    description: 'text/event-stream: `snapshot` (the GET /runs/{id} body) first, then `epoch`, `heatmaps`, `progress` (the trainer’s step within the epoch) and `status` as the store changes (polled every second), and `end` when the run finishes; then the stream closes.',
  })
  @ApiProduces('text/event-stream')
  @ApiResponse({ status: 400, type: ErrorResponseDto, description: 'Malformed run id' })
  @ApiResponse({ status: 404, type: ErrorResponseDto, description: 'No such run' })
  events(@Param('id') id: string): Promise<Observable<MessageEvent>> {
    return this.runs.events(id);
  }
}
