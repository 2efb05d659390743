import { Controller, Get, Param, Req, Res, StreamableFile } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, ApiOperation, ApiParam, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { assertModelFileName, assertRef } from '@lvseg/model-store';
import { heatmapLayersOfArchitecture } from '@lvseg/model';
import { SCOPES } from '@lvseg/config';
import { RequireScope } from '../auth/route-access';
import { ErrorResponseDto } from '../segment/dto/segment-response.dto';
import { ModelCardDto, ModelFileDto, ModelListDto } from './dto/model.dto';
import { ModelRegistry } from './model-registry.service';
import { browserModelFile } from './model-files';

@ApiTags('models')
@ApiExtraModels(ModelFileDto)
@RequireScope(SCOPES.read)
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
      heatmapLayers: heatmapLayersOfArchitecture(card.architecture),
      served: card.version === this.registry.status().version,
    };
  }

  @Get(':ref/files/:name')
  @ApiOperation({
    summary: 'A tfjs file of a model version (model.json or a weight file its manifest names), for running the model in the browser',
    description:
      'The bytes are read through the model store, which checks them against the sha256 in the model card. ' +
      'model.json names its weight files relative to itself, so `tf.loadLayersModel("/models/<ref>/files/model.json")` loads the whole model. ' +
      'A version id is immutable and cached for a year; an alias is revalidated on every use (ETag = the file’s sha256).',
  })
  @ApiParam({ name: 'ref', description: 'Version id or alias, e.g. production' })
  @ApiParam({ name: 'name', description: 'model.json, or a weight file listed in its weightsManifest (e.g. weights.bin)' })
  @ApiProduces('application/json', 'application/octet-stream')
  @ApiOkResponse({ description: 'The file, byte for byte as stored', schema: { type: 'string', format: 'binary' } })
  @ApiResponse({ status: 304, description: 'If-None-Match named the file’s current sha256 ETag' })
  @ApiResponse({ status: 400, type: ErrorResponseDto, description: 'Malformed reference or file name' })
  @ApiResponse({ status: 404, type: ErrorResponseDto, description: 'No such version or alias, or no such browser file in it (the message lists the available ones)' })
  @ApiResponse({ status: 503, type: ErrorResponseDto, description: 'Stored bytes do not match the card (integrity), or the store is unavailable' })
  async file(@Param('ref') ref: string, @Param('name') name: string, @Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<StreamableFile | undefined> {
    assertRef(ref);
    assertModelFileName(name);
    const loaded = await this.registry.modelStore.load(ref);
    const file = browserModelFile(loaded, name);
    const etag = file.sha256 ? `"${file.sha256}"` : undefined;
    if (etag) res.setHeader('ETag', etag);
    // Versions are immutable; an alias may move, so the browser asks again and gets a 304 while it points at the same bytes.
    res.setHeader('Cache-Control', loaded.card.version === ref ? 'public, max-age=31536000, immutable' : 'no-cache');
    if (etag && req.headers['if-none-match'] === etag) {
      res.status(304);
      return undefined;
    }
    res.setHeader('Content-Type', file.contentType);
    res.setHeader('Content-Length', String(file.bytes.length));
    return new StreamableFile(file.bytes);
  }
}

function aliasesOf(aliases: Record<string, string>, version: string): string[] {
  return Object.keys(aliases)
    .filter((a) => aliases[a] === version)
    .sort();
}
