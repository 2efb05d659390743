import { Controller, Get, Inject, Optional } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiResponse, ApiTags, getSchemaPath } from '@nestjs/swagger';
import { LvsegError } from '@lvseg/common';
import { PublicRoute } from '../auth/route-access';
import type { EngineChoice } from '../engine/engine-selection';
import { ModelRegistry } from '../models/model-registry.service';
import { ENGINE_CHOICE } from '../tokens';
import { READINESS_CHECKS, ReadinessCheck, ReadinessResult } from './readiness-check';
import { ErrorBodyDto } from '../segment/dto/segment-response.dto';

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

  @ApiPropertyOptional({ description: 'onnx: versions carrying int8-calibration.json run as INT8 graphs (LVSEG_ONNX_INT8); `served` names the INT8 networks of the served version' })
  onnxInt8?: boolean;

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

  @ApiPropertyOptional({ description: 'PACS bridge in Redis mode only (LVSEG_REDIS_URL set): Redis, the job queue, answered PING', example: { status: 'ok', checkedAt: '2026-12-07T05:00:00.000Z' } })
  redis?: { status: 'ok'; checkedAt: string };
}

export class ReadinessVerdictDto {
  @ApiProperty({ enum: ['ok', 'failing'] })
  status!: 'ok' | 'failing';

  @ApiProperty({ description: 'When this verdict was reached (ISO 8601; a dependency is asked at most every few seconds)' })
  checkedAt!: string;

  @ApiPropertyOptional({ description: 'failing: the machine code', example: 'QUEUE_UNAVAILABLE' })
  code?: string;

  @ApiPropertyOptional({ description: 'failing: why (names no secret and no patient)', example: 'Redis is not connected (reconnecting; last error: connect ECONNREFUSED 10.0.0.7:6379)' })
  message?: string;
}

export class NotReadyDto {
  @ApiProperty({ type: ErrorBodyDto, description: 'The first failing check (model, then pacs, then redis); the message joins every failing check’s reason' })
  error!: ErrorBodyDto;

  @ApiProperty({
    description: 'Every check by name: model, and on the PACS bridge pacs (and redis in Redis mode)',
    type: 'object',
    additionalProperties: { $ref: getSchemaPath(ReadinessVerdictDto) },
    example: {
      model: { status: 'ok', checkedAt: '2026-12-07T05:00:00.000Z' },
      pacs: { status: 'ok', checkedAt: '2026-12-07T05:00:00.000Z' },
      redis: { status: 'failing', checkedAt: '2026-12-07T05:00:00.000Z', code: 'QUEUE_UNAVAILABLE', message: 'Redis is not connected (reconnecting; last error: connect ECONNREFUSED 10.0.0.7:6379)' },
    },
  })
  checks!: Record<string, ReadinessVerdictDto>;
}

/** A named check's result as the answers show it. */
function verdictOf(r: ReadinessResult): ReadinessVerdictDto {
  return r.ok ? { status: 'ok', checkedAt: r.checkedAt } : { status: 'failing', checkedAt: r.checkedAt, code: r.code, message: r.message };
}

@ApiTags('operations')
@ApiExtraModels(ReadinessVerdictDto)
@PublicRoute('probes: kubelet and load balancers call them without credentials; they say nothing about patients')
@Controller('health')
export class HealthController {
  constructor(
    private readonly registry: ModelRegistry,
    @Inject(ENGINE_CHOICE) private readonly engine: EngineChoice,
    /** The PACS bridge's checks: its PACS, and Redis in Redis mode (none without PACS_URL). */
    @Optional() @Inject(READINESS_CHECKS) private readonly checks: ReadinessCheck[] = [],
  ) {}

  @Get('live')
  @ApiOperation({ summary: 'Liveness: the process answers' })
  @ApiOkResponse({ type: LiveDto })
  live(): LiveDto {
    return { status: 'live' };
  }

  @Get('ready')
  @ApiOperation({
    summary:
      'Readiness: a model is loaded and served, and (PACS bridge) the PACS answers with lvseg’s credentials, and (Redis mode) Redis answers; 503 with every failing check’s reason otherwise',
  })
  @ApiOkResponse({ type: ReadyDto })
  @ApiResponse({ status: 503, type: NotReadyDto })
  async ready(): Promise<ReadyDto> {
    const s = this.registry.status();
    const now = new Date().toISOString();
    const model: ReadinessResult =
      s.ready && s.version && s.architecture && s.loadedAt
        ? { ok: true, checkedAt: now }
        : { ok: false, checkedAt: now, code: 'MODEL_NOT_READY', message: `no model loaded yet for "${s.defaultRef}"${s.lastPollError ? ` (${s.lastPollError})` : ''}` };
    // Every check, concurrently (each bounds its own time), so a 503 names every reason, not just the first.
    const results: Array<[string, ReadinessResult]> = [['model', model], ...(await Promise.all(this.checks.map(async (c) => [c.name, await c.check()] as [string, ReadinessResult])))];
    const failing = results.filter((r): r is [string, Extract<ReadinessResult, { ok: false }>] => !r[1].ok);
    if (failing.length > 0) {
      // The model's own message stays as it was ("no model loaded yet…"); a dependency's says which one.
      const message = failing.map(([name, r]) => (name === 'model' ? r.message : `${name} not ready: ${r.message}`)).join('; ');
      const body: Pick<NotReadyDto, 'checks'> = { checks: Object.fromEntries(results.map(([name, r]) => [name, verdictOf(r)])) };
      throw new LvsegError('unavailable', failing[0][1].code, message, { retryAfterSeconds: 5, answer: body });
    }
    return {
      status: 'ready',
      defaultRef: s.defaultRef,
      version: s.version!,
      architecture: s.architecture!,
      loadedAt: s.loadedAt!,
      ...(s.lastPollAt ? { lastPollAt: s.lastPollAt } : {}),
      engine: { ...this.engine, ...(s.runtime ? { served: s.runtime } : {}) },
      ...Object.fromEntries(results.slice(1).map(([name, r]) => [name, { status: 'ok', checkedAt: r.checkedAt }])),
    };
  }
}
