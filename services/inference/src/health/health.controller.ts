import { Controller, Get, Inject, Optional } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiResponse, ApiTags } from '@nestjs/swagger';
import { LvsegError } from '@lvseg/common';
import { PublicRoute } from '../auth/route-access';
import type { EngineChoice } from '../engine/engine-selection';
import { ModelRegistry } from '../models/model-registry.service';
import { ENGINE_CHOICE } from '../tokens';
import { READINESS_CHECK, ReadinessCheck } from './readiness-check';
import { ErrorResponseDto } from '../segment/dto/segment-response.dto';

export class LiveDto {
  @ApiProperty({ example: 'live' })
  status!: 'live';
}

export class EngineDto {
  @ApiProperty({ enum: ['onnx', 'tfjs', 'custom'], description: 'Runtime of the mask path chosen at start (LVSEG_ENGINE)' })
  engine!: 'onnx' | 'tfjs' | 'custom';

  @ApiProperty({ example: "auto: the tfjs backend is 'wasm' and onnxruntime-node loads" })
  reason!: string;

  @ApiPropertyOptional({ description: 'onnx: intra-op threads per session (LVSEG_ORT_THREADS)' })
  ortThreads?: number;

  @ApiProperty({ example: 'wasm', description: 'tfjs backend (heatmaps and Grad-CAM always run on tfjs)' })
  tfjsBackend!: string;

  @ApiPropertyOptional({ description: 'What runs the served model, e.g. tfjs when its ONNX export was refused', example: 'onnxruntime-node 1.30.0 (cpu, 1 intra-op thread); explanations on tfjs (wasm)' })
  served?: string;
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

  @ApiProperty({ type: EngineDto })
  engine!: EngineDto;

  @ApiPropertyOptional({ description: 'PACS bridge only (PACS_URL set): the PACS answered with lvseg’s credentials', example: { status: 'ok', checkedAt: '2026-12-07T05:00:00.000Z' } })
  pacs?: { status: 'ok'; checkedAt: string };
}

@ApiTags('operations')
@PublicRoute('probes: kubelet and load balancers call them without credentials; they say nothing about patients')
@Controller('health')
export class HealthController {
  constructor(
    private readonly registry: ModelRegistry,
    @Inject(ENGINE_CHOICE) private readonly engine: EngineChoice,
    /** The PACS bridge's check of its PACS (absent without PACS_URL). */
    @Optional() @Inject(READINESS_CHECK) private readonly dependency?: ReadinessCheck,
  ) {}

  @Get('live')
  @ApiOperation({ summary: 'Liveness: the process answers' })
  @ApiOkResponse({ type: LiveDto })
  live(): LiveDto {
    return { status: 'live' };
  }

  @Get('ready')
  @ApiOperation({ summary: 'Readiness: a model is loaded and served, and (PACS bridge) the PACS answers with lvseg’s credentials (503 with the reason otherwise)' })
  @ApiOkResponse({ type: ReadyDto })
  @ApiResponse({ status: 503, type: ErrorResponseDto })
  async ready(): Promise<ReadyDto> {
    const s = this.registry.status();
    if (!s.ready || !s.version || !s.architecture || !s.loadedAt) {
      throw new LvsegError('unavailable', 'MODEL_NOT_READY', `no model loaded yet for "${s.defaultRef}"${s.lastPollError ? ` (${s.lastPollError})` : ''}`, { retryAfterSeconds: 5 });
    }
    const dependency = this.dependency ? await this.dependency.check() : undefined;
    if (dependency && !dependency.ok) {
      throw new LvsegError('unavailable', dependency.code, `${this.dependency!.name} not ready: ${dependency.message}`, { retryAfterSeconds: 5 });
    }
    return {
      status: 'ready',
      defaultRef: s.defaultRef,
      version: s.version,
      architecture: s.architecture,
      loadedAt: s.loadedAt,
      ...(s.lastPollAt ? { lastPollAt: s.lastPollAt } : {}),
      engine: { ...this.engine, ...(s.runtime ? { served: s.runtime } : {}) },
      ...(dependency ? { [this.dependency!.name]: { status: 'ok', checkedAt: dependency.checkedAt } } : {}),
    };
  }
}
