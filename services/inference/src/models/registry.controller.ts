import { Controller, HttpCode, Inject, Param, Post, Query, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiProperty, ApiPropertyOptional, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { LvsegError } from '@lvseg/common';
import { InferenceConfig, SCOPES } from '@lvseg/config';
import { assertAliasName, assertRef, promote } from '@lvseg/model-store';
import { RequireScope } from '../auth/route-access';
import type { Principal } from '../auth/principal';
import { ErrorResponseDto } from '../segment/dto/segment-response.dto';
import { INFERENCE_CONFIG } from '../tokens';
import { ModelRegistry } from './model-registry.service';

export class AliasChangeDto {
  @ApiProperty({ example: 'production' })
  alias!: string;

  @ApiPropertyOptional({ description: 'The version the alias pointed at before' })
  previous?: string;

  @ApiProperty({ description: 'The version the alias points at now' })
  current!: string;

  @ApiPropertyOptional({ description: 'promote: the validation Dice the decision was based on' })
  valDice?: number;

  @ApiPropertyOptional({ description: 'promote: true when the Dice bar was not met and force=true overrode it' })
  forced?: boolean;
}

const MAX_REASON = 200;

function reasonOf(raw: unknown, fallback: string): string {
  if (raw === undefined || raw === '') return fallback;
  if (typeof raw !== 'string' || raw.length > MAX_REASON) {
    throw new LvsegError('invalid-input', 'REGISTRY_REASON_INVALID', `reason must be one text of at most ${MAX_REASON} characters`);
  }
  return raw;
}

/** Who moved the alias, for its history: the API key's name, or oidc:<subject>. */
function byOf(req: Request & { principal?: Principal }): string {
  const p = req.principal;
  if (!p) return 'api';
  return p.subject !== undefined ? `${p.name}:${p.subject}` : p.name;
}

/**
 * Changing the model registry over HTTP (the same operations as `lvseg models promote` / `rollback`): a separate
 * right (`lvseg:registry`) from segmenting and reading. Parameters are in the query, as /segment's are (no JSON body parser).
 */
@ApiTags('models')
@RequireScope(SCOPES.registry)
@Controller('models/aliases')
export class RegistryController {
  constructor(
    private readonly registry: ModelRegistry,
    @Inject(INFERENCE_CONFIG) private readonly config: InferenceConfig,
  ) {}

  @Post(':alias/promote')
  @HttpCode(200)
  @ApiOperation({ summary: 'Point an alias at a version (or at what another alias points at), refused below the Dice bar (LVSEG_MIN_PROMOTE_DICE) unless force=true' })
  @ApiParam({ name: 'alias', example: 'production' })
  @ApiQuery({ name: 'version', required: true, description: 'Version id or alias to point at' })
  @ApiQuery({ name: 'force', required: false, enum: ['true', 'false'] })
  @ApiQuery({ name: 'reason', required: false, description: 'Recorded in the alias history' })
  @ApiOkResponse({ type: AliasChangeDto })
  @ApiResponse({ status: 400, type: ErrorResponseDto, description: 'Malformed alias, version or reason' })
  @ApiResponse({ status: 404, type: ErrorResponseDto, description: 'No such version' })
  @ApiResponse({ status: 409, type: ErrorResponseDto, description: 'MODEL_BELOW_DICE_BAR' })
  async promote(@Param('alias') alias: string, @Query() query: Record<string, unknown>, @Req() req: Request): Promise<AliasChangeDto> {
    assertAliasName(alias);
    const version = query.version;
    assertRef(version);
    if (query.force !== undefined && query.force !== 'true' && query.force !== 'false') {
      throw new LvsegError('invalid-input', 'REGISTRY_FORCE_INVALID', 'force must be true or false');
    }
    const result = await promote(this.registry.modelStore, {
      alias,
      version,
      minDice: this.config.minPromoteDice,
      force: query.force === 'true',
      reason: reasonOf(query.reason, 'POST /models/aliases/:alias/promote'),
      by: byOf(req),
    });
    // Serve the new version now rather than at the next poll.
    await this.registry.poll();
    return result;
  }

  @Post(':alias/rollback')
  @HttpCode(200)
  @ApiOperation({ summary: 'Move an alias back to the version it pointed at before its latest move' })
  @ApiParam({ name: 'alias', example: 'production' })
  @ApiQuery({ name: 'reason', required: false, description: 'Recorded in the alias history' })
  @ApiOkResponse({ type: AliasChangeDto })
  @ApiResponse({ status: 404, type: ErrorResponseDto, description: 'No such alias' })
  @ApiResponse({ status: 409, type: ErrorResponseDto, description: 'Nothing to roll back to' })
  async rollback(@Param('alias') alias: string, @Query() query: Record<string, unknown>, @Req() req: Request): Promise<AliasChangeDto> {
    assertAliasName(alias);
    const change = await this.registry.modelStore.rollback(alias, { by: byOf(req), reason: reasonOf(query.reason, 'POST /models/aliases/:alias/rollback') });
    await this.registry.poll();
    return change;
  }
}
