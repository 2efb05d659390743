import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ErrorBodyDto, LabelMetricsDto, LvAreaDto, MaskDto, ModelRefDto, RoiDto } from './segment-response.dto';

export class SeriesLabelDto extends LabelMetricsDto {
  @ApiProperty({ example: '100.txt', description: 'The `labels` part paired with this image (same base name)' })
  fileName!: string;

  @ApiProperty({ type: LvAreaDto, description: 'LV area of the label, as the model’s is measured' })
  lvArea!: LvAreaDto;
}

export class SeriesImageDto {
  @ApiProperty({ example: '100.dcm', description: 'File name of the `files` part, as sent' })
  fileName!: string;

  @ApiProperty({ type: String, nullable: true, description: 'SOP Instance UID of the image, when present' })
  sopInstanceUid!: string | null;

  @ApiProperty({ type: Number, nullable: true, example: 100, description: 'InstanceNumber (0020,0013), when present' })
  instanceNumber!: number | null;

  @ApiProperty({ example: 256 })
  rows!: number;

  @ApiProperty({ example: 256 })
  columns!: number;

  @ApiProperty({ type: [Number], nullable: true, example: [1.367, 1.367], description: '[row, column] spacing in mm; null when absent' })
  pixelSpacingMm!: [number, number] | null;

  @ApiProperty({ type: Number, nullable: true, example: 4, description: '0-based slice of the stack (from the DICOM geometry; a skipped slice leaves an index out)' })
  sliceIndex!: number | null;

  @ApiProperty({ type: Number, nullable: true, example: 19, description: '0-based cine phase within the slice (TriggerTime, else InstanceNumber order); null when it could not be told' })
  phaseIndex!: number | null;

  @ApiProperty({ type: MaskDto })
  mask!: MaskDto;

  @ApiProperty({ type: LvAreaDto })
  lvArea!: LvAreaDto;

  @ApiProperty({ description: 'False when the model found no LV in the image (the mask is then empty)' })
  lvFound!: boolean;

  @ApiProperty({ type: RoiDto, nullable: true, description: "The region a cascade model's segmenter looked at; null for whole-image models or when no LV was found" })
  roi!: RoiDto | null;

  @ApiPropertyOptional({ type: SeriesLabelDto, description: 'Present when a label was paired with this image: Dice, Jaccard, pixel accuracy and the label’s LV area' })
  label?: SeriesLabelDto;
}

export class SeriesInfoDto {
  @ApiProperty({ type: String, nullable: true, description: 'SeriesInstanceUID shared by every image, when present' })
  seriesInstanceUid!: string | null;

  @ApiProperty({ example: 20, description: 'Images in the request' })
  images!: number;

  @ApiProperty({ example: 20, description: 'Images with a paired label' })
  labelled!: number;

  @ApiProperty({ enum: ['image-position', 'slice-location'], description: 'Slice positions from ImagePositionPatient along the ImageOrientationPatient normal, else SliceLocation' })
  slicePositionSource!: 'image-position' | 'slice-location';

  @ApiProperty({ enum: ['trigger-time', 'instance-number'], nullable: true, description: 'What ordered the frames of a slice into phases; null when neither is on every image' })
  phaseSource!: 'trigger-time' | 'instance-number' | null;
}

export class LvPhaseSumDto {
  @ApiProperty({ type: Number, nullable: true, example: 7, description: '0-based cine phase; null under the slice-pair rule (its two groups are ED and ES)' })
  phase!: number | null;

  @ApiProperty({ enum: ['ED', 'ES'], nullable: true, description: 'ED or ES for the two phases EF is computed from, else null' })
  role!: 'ED' | 'ES' | null;

  @ApiProperty({ example: 15240.5, description: 'Σ LV area over the summed slices (interpolated ones included), in `areaUnit`' })
  areaSum!: number;

  @ApiProperty({ type: Number, nullable: true, example: 121.9, description: 'areaSum × slice spacing, mL; null when the volumes are' })
  volumeMl!: number | null;
}

export class LvFunctionDto {
  @ApiProperty({ type: Number, nullable: true, example: 182.4, description: 'End-diastolic volume, mL; null with volumeNullReason' })
  edvMl!: number | null;

  @ApiProperty({ type: Number, nullable: true, example: 121.9, description: 'End-systolic volume, mL' })
  esvMl!: number | null;

  @ApiProperty({ type: Number, nullable: true, example: 60.5, description: 'Stroke volume EDV − ESV, mL' })
  svMl!: number | null;

  @ApiProperty({ example: 0.33, description: 'Ejection fraction SV / EDV as a fraction 0..1 (from the area sums when the volumes are null)' })
  ef!: number;

  @ApiProperty({ type: Number, nullable: true, example: 19, description: '0-based cine phase of end-diastole (largest summed area); null under the slice-pair rule' })
  edPhase!: number | null;

  @ApiProperty({ type: Number, nullable: true, example: 7, description: '0-based cine phase of end-systole (smallest summed area); null under the slice-pair rule' })
  esPhase!: number | null;

  @ApiProperty({ enum: ['cine-phase', 'slice-pair'], description: 'Frames grouped by cine phase, or (no phase known) by the per-slice pair rule: larger = ED' })
  phaseRule!: 'cine-phase' | 'slice-pair';

  @ApiProperty({ example: 9, description: 'Slice steps summed per phase (interpolated ones included)' })
  slicesUsed!: number;

  @ApiProperty({ type: Number, nullable: true, example: 10, description: 'Slice spacing of the discs, mm' })
  spacingMm!: number | null;

  @ApiProperty({ enum: ['slice-positions', 'spacing-between-slices', 'slice-thickness'], nullable: true, description: 'Where the spacing came from' })
  spacingSource!: 'slice-positions' | 'spacing-between-slices' | 'slice-thickness' | null;

  @ApiProperty({ enum: ['mm2', 'px'], description: 'Whether the areas summed were mm² (volumes) or pixels (EF only)' })
  areaUnit!: 'mm2' | 'px';

  @ApiProperty({ description: 'The method, in words, as applied to this input' })
  method!: string;

  @ApiProperty({ type: [String], description: 'What this input needed: placement, slices left out or interpolated, frames dropped, disagreements' })
  notes!: string[];

  @ApiPropertyOptional({ description: 'Why the volumes are null' })
  volumeNullReason?: string;

  @ApiProperty({ type: [LvPhaseSumDto], description: 'Every phase summed over the same slices (what ED and ES are chosen from), in phase order; ED then ES under the slice-pair rule' })
  phases!: LvPhaseSumDto[];
}

export class LvFunctionDifferenceDto {
  @ApiProperty({ example: -0.02, description: 'Model EF − expert EF (fractions)' })
  ef!: number;

  @ApiProperty({ type: Number, nullable: true, example: 4.1, description: 'Model EDV − expert EDV, mL; null when either is' })
  edvMl!: number | null;

  @ApiProperty({ type: Number, nullable: true, example: 6.3, description: 'Model ESV − expert ESV, mL; null when either is' })
  esvMl!: number | null;
}

export class LvFunctionComparisonDto {
  @ApiProperty({ example: 18, description: 'Labelled frames both functions are computed from' })
  frames!: number;

  @ApiProperty({ type: LvFunctionDto, description: 'From the expert labels of the labelled frames' })
  expert!: LvFunctionDto;

  @ApiProperty({ type: LvFunctionDto, description: 'From the model’s masks of the same frames, by the same rule (equals `function` when every image has a label)' })
  model!: LvFunctionDto;

  @ApiProperty({ type: LvFunctionDifferenceDto, description: 'model − expert' })
  difference!: LvFunctionDifferenceDto;
}

export class SeriesTimingsDto {
  @ApiProperty({ description: 'Reading the request body (the upload) and parsing options, before this service’s own stages' })
  receiveMs!: number;

  @ApiProperty({ description: 'Decoding every DICOM' })
  decodeMs!: number;

  @ApiPropertyOptional({ description: 'Reading every label' })
  labelMs?: number;

  @ApiProperty({ description: 'Placing the frames in slices and phases, checking the stack' })
  placementMs!: number;

  @ApiProperty({ description: 'Waiting in the inference queue' })
  queueMs!: number;

  @ApiProperty({ description: 'The one engine call segmenting the whole series' })
  inferenceMs!: number;

  @ApiProperty({ description: 'Mask PNGs, LV areas and (with labels) the label metrics' })
  postprocessMs!: number;

  @ApiProperty({ description: 'LV volumes and EF (and the expert comparison)' })
  functionMs!: number;

  @ApiProperty({ description: 'From the first byte handled by this service to the response' })
  totalMs!: number;
}

export class SeriesResponseDto {
  @ApiProperty({ type: ModelRefDto })
  model!: ModelRefDto;

  @ApiProperty({ type: SeriesInfoDto })
  series!: SeriesInfoDto;

  @ApiProperty({ type: [SeriesImageDto], description: 'One per `files` part, in upload order' })
  images!: SeriesImageDto[];

  @ApiProperty({
    type: LvFunctionDto,
    nullable: true,
    description: 'LV volumes and EF from the model’s masks of every image, by disc summation; null (see functionError) when they cannot be computed, e.g. no LV found at any slice',
  })
  function!: LvFunctionDto | null;

  @ApiPropertyOptional({ type: ErrorBodyDto, description: 'Why `function` is null' })
  functionError?: ErrorBodyDto;

  @ApiPropertyOptional({
    type: LvFunctionComparisonDto,
    nullable: true,
    description: 'Present when labels were sent: the expert’s LV function, the model’s over the same frames, and model − expert; null (see comparisonError) when the labelled frames give none',
  })
  comparison?: LvFunctionComparisonDto | null;

  @ApiPropertyOptional({ type: ErrorBodyDto, description: 'Why `comparison` is null' })
  comparisonError?: ErrorBodyDto;

  @ApiProperty({ type: SeriesTimingsDto })
  timings!: SeriesTimingsDto;
}
