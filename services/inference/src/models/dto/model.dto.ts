import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class ModelSummaryDto {
  @ApiProperty({ example: 'fcn-paper-20250101T120000-ab12cd' })
  version!: string;

  @ApiProperty({ example: 'fcn-paper' })
  architecture!: string;

  @ApiProperty({ description: 'ISO 8601, UTC' })
  createdAt!: string;

  @ApiProperty()
  parameterCount!: number;

  @ApiProperty({ description: 'Metrics recorded at training, by split, e.g. { val: { dice, pixelAccuracy } }', type: 'object', additionalProperties: { type: 'object', additionalProperties: { type: 'number' } } })
  metrics!: Record<string, Record<string, number>>;

  @ApiProperty({ type: [String], description: 'Aliases pointing at this version' })
  aliases!: string[];

  @ApiProperty({ description: 'True for the version this service answers with by default' })
  served!: boolean;
}

export class ModelListDto {
  @ApiProperty({ example: 'production', description: 'The alias or version served when a request names none' })
  defaultRef!: string;

  @ApiProperty({ type: String, nullable: true, description: 'Version served by default right now (null until one is loaded)' })
  servedVersion!: string | null;

  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' }, example: { production: 'fcn-paper-20250101T120000-ab12cd' } })
  aliases!: Record<string, string>;

  @ApiProperty({ type: [ModelSummaryDto], description: 'Newest first' })
  models!: ModelSummaryDto[];
}

export class ModelDataDto {
  @ApiProperty({ description: 'sha256 of the manifest that pins the exact training image list' })
  manifestSha256!: string;

  @ApiPropertyOptional()
  source?: string;

  @ApiProperty()
  trainImages!: number;

  @ApiProperty()
  valImages!: number;
}

export class ModelFileDto {
  @ApiProperty()
  sha256!: string;

  @ApiProperty()
  bytes!: number;
}

/** The stored model card, plus what the service adds: aliases, heatmap layers, whether it is served. */
export class ModelCardDto {
  @ApiProperty() version!: string;
  @ApiProperty() architecture!: string;
  @ApiProperty() parameterCount!: number;
  @ApiProperty({ type: [Number], example: [256, 256, 1] }) inputShape!: number[];
  @ApiProperty({ type: [String], example: ['background', 'lv'] }) classes!: string[];
  @ApiProperty({ type: 'object', additionalProperties: true }) preprocessing!: Record<string, unknown>;
  @ApiProperty({ type: 'object', additionalProperties: true }) hyperParameters!: Record<string, unknown>;
  @ApiProperty({ type: ModelDataDto, description: 'Training data provenance' }) data!: ModelDataDto;
  @ApiProperty({ type: 'object', additionalProperties: true }) metrics!: Record<string, Record<string, number>>;
  @ApiProperty() backend!: string;
  @ApiProperty() trainingTimeMs!: number;
  @ApiProperty() gitCommit!: string;
  @ApiProperty() createdAt!: string;
  @ApiProperty({ type: 'object', additionalProperties: { $ref: '#/components/schemas/ModelFileDto' } }) files!: Record<string, ModelFileDto>;
  @ApiPropertyOptional() parent?: string;
  @ApiPropertyOptional() notes?: string;
  @ApiProperty({ type: [String], description: 'Aliases pointing at this version' }) aliases!: string[];
  @ApiProperty({ type: [String], description: 'Layer names accepted by ?heatmaps= and ?gradcam=' }) heatmapLayers!: string[];
  @ApiProperty({ description: 'True for the version this service answers with by default' }) served!: boolean;
}
