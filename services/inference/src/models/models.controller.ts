import { Controller, Get, Param } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { assertRef } from '@lvseg/model-store';
import { ARCHITECTURES } from '@lvseg/model';
import { ErrorResponseDto } from '../segment/dto/segment-response.dto';
import { ModelCardDto, ModelFileDto, ModelListDto } from './dto/model.dto';
import { ModelRegistry } from './model-registry.service';

@ApiTags('models')
@ApiExtraModels(ModelFileDto)
@Controller('models')
export class ModelsController {
  constructor(private readonly registry: ModelRegistry) {}

  @Get()
  @ApiOperation({ summary: 'Published model versions (newest first), the aliases, and which version is served' })
  @ApiOkResponse({ type: ModelListDto })
  @ApiResponse({ status: 503, type: ErrorResponseDto, description: 'The model store is unavailable' })
  async list(): Promise<ModelListDto> {
    const store = this.registry.modelStore;
    const [cards, aliases] = await Promise.all([store.list(), store.aliases()]);
    const served = this.registry.status().version ?? null;
    return {
      defaultRef: this.registry.status().defaultRef,
      servedVersion: served,
      aliases,
      models: cards.map((c) => ({
        version: c.version,
        architecture: c.architecture,
        createdAt: c.createdAt,
        parameterCount: c.parameterCount,
        metrics: c.metrics,
        aliases: aliasesOf(aliases, c.version),
        served: c.version === served,
      })),
    };
  }

  @Get(':ref')
  @ApiOperation({ summary: 'The model card of a version or alias, with its heatmap layer names' })
  @ApiParam({ name: 'ref', description: 'Version id or alias, e.g. production' })
  @ApiOkResponse({ type: ModelCardDto })
  @ApiResponse({ status: 400, type: ErrorResponseDto, description: 'Malformed reference' })
  @ApiResponse({ status: 404, type: ErrorResponseDto, description: 'No such version or alias' })
  async card(@Param('ref') ref: string): Promise<ModelCardDto> {
    assertRef(ref);
    const store = this.registry.modelStore;
    const [card, aliases] = await Promise.all([store.getCard(ref), store.aliases()]);
    return {
      ...card,
      aliases: aliasesOf(aliases, card.version),
      heatmapLayers: ARCHITECTURES[card.architecture]?.heatmapLayers ?? [],
      served: card.version === this.registry.status().version,
    };
  }
}

function aliasesOf(aliases: Record<string, string>, version: string): string[] {
  return Object.keys(aliases)
    .filter((a) => aliases[a] === version)
    .sort();
}
