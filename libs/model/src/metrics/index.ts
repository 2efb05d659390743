/** Segmentation metrics and mask post-processing: overlap, components, boundary distance, evaluation reports. */
export { confusion, dice, jaccard, pixelAccuracy, diceFromConfusion, jaccardFromConfusion, pixelAccuracyFromConfusion } from './overlap';
export type { Confusion } from './overlap';
export { labelComponents, selectComponent, largestComponent, fillHoles } from './components';
export type { Connectivity, ComponentLabels, SelectComponentOptions } from './components';
export { boundaryMask, maskBoundary, averagePerpendicularDistance } from './contour';
export type { BoundaryPoint } from './contour';
export { euclideanDistanceTransform } from './distance-transform';
export { bestLabelShift, shiftedDiceTable } from './label-shift';
export type { ShiftAgreement } from './label-shift';
export { evaluateCases, evaluateImage } from './evaluation';
export type { EvaluationItem, EvaluationOptions, EvaluationReport, CaseEvaluation, ImageEvaluation } from './evaluation';
