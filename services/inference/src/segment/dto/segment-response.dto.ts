import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class ModelRefDto {
  @ApiProperty({ example: 'fcn-paper-20250101T120000-ab12cd', description: 'Model version id that produced this answer' })
  version!: string;

  @ApiProperty({ example: 'fcn-paper', description: 'Architecture name (heatmap layer names depend on it)' })
  architecture!: string;
}

export class ImageInfoDto {
  @ApiProperty({ example: 256 })
  rows!: number;

  @ApiProperty({ example: 256 })
  columns!: number;

  @ApiProperty({ type: [Number], nullable: true, example: [1.367, 1.367], description: '[row, column] spacing in mm from PixelSpacing (or ImagerPixelSpacing); null when absent' })
  pixelSpacingMm!: [number, number] | null;

  @ApiProperty({ type: String, nullable: true, description: 'SOP Instance UID of the image, when present' })
  sopInstanceUid!: string | null;
}

export class MaskDto {
  @ApiProperty({ description: 'Base64 8-bit greyscale PNG at the image’s own size: 0 = background, 255 = LV blood pool' })
  png!: string;

  @ApiProperty({ example: 256 })
  rows!: number;

  @ApiProperty({ example: 256 })
  columns!: number;
}

export class LvAreaDto {
  @ApiProperty({ example: 812, description: 'LV pixels in the mask' })
  pixels!: number;

  @ApiProperty({ type: Number, nullable: true, example: 1517.6, description: 'pixels × row spacing × column spacing; null when the spacing is unknown' })
  mm2!: number | null;

  @ApiPropertyOptional({ example: 'the DICOM has no PixelSpacing (0028,0030) or ImagerPixelSpacing (0018,1164)', description: 'Why mm2 is null' })
  reason?: string;
}

export class LabelMetricsDto {
  @ApiProperty({ enum: ['png', 'contour'], description: 'How the label was read: a PNG mask (non-zero = LV) or a Sunnybrook contour file' })
  kind!: 'png' | 'contour';

  @ApiProperty({ example: 0.91, description: '2|P∩T| / (|P| + |T|); 1 when both are empty' })
  dice!: number;

  @ApiProperty({ example: 0.84, description: '|P∩T| / |P∪T|; 1 when both are empty' })
  jaccard!: number;

  @ApiProperty({ example: 0.997, description: 'Share of pixels where mask and label agree' })
  pixelAccuracy!: number;

  @ApiProperty({ example: 790, description: 'LV pixels in the label' })
  labelPixels!: number;
}

export class HeatmapDto {
  @ApiProperty({ example: 'conv2' })
  layer!: string;

  @ApiProperty({ type: [Number], example: [32, 32, 200], description: 'Layer output [rows, columns, channels] before the channel mean' })
  layerShape!: [number, number, number];

  @ApiProperty({ description: 'Base64 RGBA PNG at the image size: channel-mean activation, bilinear-upsampled, min-max scaled, jet colour map' })
  png!: string;

  @ApiProperty({ description: 'Base64 RGBA PNG: the same colours over the greyscale image, opacity growing with activation' })
  overlayPng!: string;
}

export class GradCamDto {
  @ApiProperty({ example: 'conv4' })
  layer!: string;

  @ApiProperty({ type: [Number], example: [16, 16, 300], description: 'Layer output [rows, columns, channels]' })
  layerShape!: [number, number, number];

  @ApiProperty({ enum: ['predicted', 'whole-image'], description: 'LV logit summed over the predicted mask, or over the whole image when the mask is empty' })
  region!: 'predicted' | 'whole-image';

  @ApiProperty({ description: 'Base64 RGBA PNG at the image size: ReLU(Σ_k mean(∂score/∂A_k)·A_k), scaled by its maximum, jet colour map' })
  png!: string;

  @ApiProperty({ description: 'Base64 RGBA PNG: the Grad-CAM colours over the greyscale image' })
  overlayPng!: string;
}

export class TimingsDto {
  @ApiProperty({ description: 'Reading the request body and parsing options, before this service’s own stages' })
  receiveMs!: number;

  @ApiProperty({ description: 'DICOM decoding' })
  decodeMs!: number;

  @ApiPropertyOptional({ description: 'Reading the label' })
  labelMs?: number;

  @ApiProperty({ description: 'Waiting in the inference queue (includes the batch window)' })
  queueMs!: number;

  @ApiProperty({ description: 'The batched engine call: preprocessing, forward pass, resampling back, thresholding' })
  inferenceMs!: number;

  @ApiProperty({ description: 'Images in the forward pass this request was part of' })
  batchSize!: number;

  @ApiProperty({ description: 'Mask PNG encoding and LV area' })
  postprocessMs!: number;

  @ApiPropertyOptional({ description: 'Dice, Jaccard and pixel accuracy against the label' })
  metricsMs?: number;

  @ApiPropertyOptional({ description: 'Activation maps and their PNGs (queue wait included)' })
  heatmapsMs?: number;

  @ApiPropertyOptional({ description: 'Grad-CAM and its PNGs (queue wait included)' })
  gradcamMs?: number;

  @ApiProperty({ description: 'From the first byte handled by this service to the response' })
  totalMs!: number;
}

export class RoiDto {
  @ApiProperty({ description: 'ROI centre row (image pixels, pixel-centre coordinates)' }) centerRow!: number;
  @ApiProperty({ description: 'ROI centre column (image pixels)' }) centerColumn!: number;
  @ApiProperty({ description: 'ROI extent along rows, image pixels' }) height!: number;
  @ApiProperty({ description: 'ROI extent along columns, image pixels' }) width!: number;
  @ApiProperty({ enum: ['localiser', 'series'], description: "localiser: this image's own localisation; series: the series' consensus centre" }) source!: 'localiser' | 'series';
  @ApiProperty({ description: "true: the mask is the model's second look at a small LV, on this smaller region around its first mask (the model's cascade.json `zoom`)" }) secondLook!: boolean;
}

export class SegmentResponseDto {
  @ApiProperty({ type: ModelRefDto })
  model!: ModelRefDto;

  @ApiProperty({ type: ImageInfoDto })
  image!: ImageInfoDto;

  @ApiProperty({ type: MaskDto })
  mask!: MaskDto;

  @ApiProperty({ type: LvAreaDto })
  lvArea!: LvAreaDto;

  @ApiProperty({ description: 'False when the model found no LV in the image (blank, noise, a slice beyond the heart): the mask is then empty' })
  lvFound!: boolean;

  @ApiProperty({ type: RoiDto, nullable: true, description: "The region a cascade model's segmenter looked at; null for whole-image models or when no LV was found" })
  roi!: RoiDto | null;

  @ApiPropertyOptional({ type: LabelMetricsDto, description: 'Present when a label was sent' })
  label?: LabelMetricsDto;

  @ApiPropertyOptional({ type: [HeatmapDto], description: 'Present when heatmaps were asked for, in network order' })
  heatmaps?: HeatmapDto[];

  @ApiPropertyOptional({ type: GradCamDto, description: 'Present when gradcam was asked for' })
  gradcam?: GradCamDto;

  @ApiProperty({ type: TimingsDto })
  timings!: TimingsDto;
}

export class ErrorBodyDto {
  @ApiProperty({ example: 'DICOM_UNSUPPORTED_TRANSFER_SYNTAX', description: 'Stable machine code' })
  code!: string;

  @ApiProperty({ example: 'unsupported transfer syntax JPEG Baseline (1.2.840.10008.1.2.4.50); …' })
  message!: string;
}

export class ErrorResponseDto {
  @ApiProperty({ type: ErrorBodyDto })
  error!: ErrorBodyDto;
}
