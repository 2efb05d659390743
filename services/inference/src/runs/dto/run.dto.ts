import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class RunSplitMetricsDto {
  @ApiProperty({ type: Number, nullable: true }) pixelAccuracy!: number | null;
  @ApiProperty({ type: Number, nullable: true }) dice!: number | null;
}

export class RunEpochDto {
  @ApiProperty({ example: 1 }) epoch!: number;
  @ApiProperty({ type: Number, nullable: true, description: 'Mean training loss (null when not finite)' }) loss!: number | null;
  @ApiProperty({ type: RunSplitMetricsDto, description: 'Pooled over the epoch\'s training batches' }) train!: RunSplitMetricsDto;
  @ApiPropertyOptional({ type: RunSplitMetricsDto, description: 'Absent on epochs without a validation pass' }) val?: RunSplitMetricsDto;
  @ApiProperty() learningRate!: number;
  @ApiProperty({ description: 'Wall time of the epoch' }) seconds!: number;
}

export class TrainingRunDto {
  @ApiProperty({ example: 'run-20261202T071500-ab12cd' }) id!: string;
  @ApiProperty({ enum: ['running', 'finished', 'failed'] }) status!: string;
  @ApiProperty({ example: 'unet-small' }) architecture!: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) hyperParameters!: Record<string, unknown>;
  @ApiProperty({ description: 'sha256 of the data manifest' }) manifestSha256!: string;
  @ApiProperty({ type: String, nullable: true, description: 'The fixed val image the heatmaps show (first val image by manifest order)' }) valImageId!: string | null;
  @ApiProperty({ type: [String], description: 'Layers with heatmaps, in network order' }) layers!: string[];
  @ApiPropertyOptional({ description: 'Planned epochs' }) epochs?: number;
  @ApiPropertyOptional() dataSource?: string;
  @ApiProperty({ description: 'ISO 8601, UTC' }) createdAt!: string;
  @ApiProperty() updatedAt!: string;
  @ApiPropertyOptional() finishedAt?: string;
  @ApiPropertyOptional({ description: 'Model version the run published' }) version?: string;
  @ApiPropertyOptional({ description: 'Why a failed run failed' }) error?: string;
}

export class RunSummaryDto extends TrainingRunDto {
  @ApiProperty({ type: Number, nullable: true, description: 'Last recorded epoch (null before the first ends)' }) latestEpoch!: number | null;
  @ApiProperty({ type: RunEpochDto, nullable: true }) latest!: RunEpochDto | null;
}

export class RunListDto {
  @ApiProperty({ type: [RunSummaryDto], description: 'Newest first' }) runs!: RunSummaryDto[];
}

export class RunHeatmapSetDto {
  @ApiProperty() epoch!: number;
  @ApiProperty({ type: [String] }) layers!: string[];
}

export class RunProgressDto {
  @ApiProperty({ example: 3 }) epoch!: number;
  @ApiProperty({ example: 41, description: 'Steps (batches) done in this epoch' }) step!: number;
  @ApiProperty({ example: 66, description: 'Steps in one epoch' }) steps!: number;
  @ApiProperty({ example: 152.3, description: 'Wall seconds since the epoch started (time left ≈ epochSeconds / step × (steps − step))' }) epochSeconds!: number;
  @ApiProperty({ type: Number, nullable: true, description: 'Training loss of the last step (null when not finite)' }) loss!: number | null;
  @ApiProperty({ description: 'When the trainer wrote it (ISO 8601, UTC); it writes at most about once a second' }) updatedAt!: string;
}

export class RunDetailDto {
  @ApiProperty({ type: TrainingRunDto }) run!: TrainingRunDto;
  @ApiProperty({ type: [RunEpochDto], description: 'Ascending by epoch' }) epochs!: RunEpochDto[];
  @ApiProperty({ type: [RunHeatmapSetDto], description: 'Epochs with heatmaps (GET /runs/{id}/heatmaps/{epoch}/{layer}.png), ascending' }) heatmaps!: RunHeatmapSetDto[];
  @ApiPropertyOptional({ type: RunProgressDto, description: "The trainer's latest step within an epoch; absent until it reports one" }) progress?: RunProgressDto;
}
