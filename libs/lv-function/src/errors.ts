/** Stable machine codes of the `invalid-input` LvsegErrors this library throws. */
export const LvFunctionErrorCode = {
  NoFrames: 'LV_NO_FRAMES',
  SinglePhase: 'LV_SINGLE_PHASE',
  MixedOrientation: 'LV_MIXED_ORIENTATION',
  BadOrientation: 'LV_BAD_ORIENTATION',
  NoSlice: 'LV_NO_SLICE',
  NoSlicePosition: 'LV_NO_SLICE_POSITION',
  IrregularSliceSpacing: 'LV_IRREGULAR_SLICE_SPACING',
  NoCommonSlices: 'LV_NO_COMMON_SLICES',
  DuplicateFrame: 'LV_DUPLICATE_FRAME',
  BadArea: 'LV_BAD_AREA',
  BadSpacing: 'LV_BAD_SPACING',
  EmptyVolume: 'LV_EMPTY_VOLUME',
} as const;
