/** The paper's schedule: lr = learningRate · decayRate^floor(step / decaySteps) (exponential decay, staircase). */
export function staircaseLearningRate(step: number, learningRate: number, decayRate: number, decaySteps: number): number {
  return learningRate * Math.pow(decayRate, Math.floor(step / decaySteps));
}
