import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiResponse, ApiTags } from '@nestjs/swagger';
import { LvsegError } from '@lvseg/common';
import { ModelRegistry } from '../models/model-registry.service';
import { ErrorResponseDto } from '../segment/dto/segment-response.dto';

export class LiveDto {
  @ApiProperty({ example: 'live' })
  status!: 'live';
}

export class ReadyDto {
  @ApiProperty({ example: 'ready' })
  status!: 'ready';

  @ApiProperty({ example: 'production' })
  defaultRef!: string;

  @ApiProperty()
  version!: string;

  @ApiProperty()
  architecture!: string;

  @ApiProperty({ description: 'When the served version was loaded (ISO 8601)' })
  loadedAt!: string;

  @ApiPropertyOptional({ description: 'Last time the alias was read from the store' })
  lastPollAt?: string;
}

@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(private readonly registry: ModelRegistry) {}

  @Get('live')
  @ApiOperation({ summary: 'Liveness: the process answers' })
  @ApiOkResponse({ type: LiveDto })
  live(): LiveDto {
    return { status: 'live' };
  }

  @Get('ready')
  @ApiOperation({ summary: 'Readiness: a model is loaded and served (503 until then)' })
  @ApiOkResponse({ type: ReadyDto })
  @ApiResponse({ status: 503, type: ErrorResponseDto })
  ready(): ReadyDto {
    const s = this.registry.status();
    if (!s.ready || !s.version || !s.architecture || !s.loadedAt) {
      throw new LvsegError('unavailable', 'MODEL_NOT_READY', `no model loaded yet for "${s.defaultRef}"${s.lastPollError ? ` (${s.lastPollError})` : ''}`, { retryAfterSeconds: 5 });
    }
    return { status: 'ready', defaultRef: s.defaultRef, version: s.version, architecture: s.architecture, loadedAt: s.loadedAt, ...(s.lastPollAt ? { lastPollAt: s.lastPollAt } : {}) };
  }
}
