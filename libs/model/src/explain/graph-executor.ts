/**
 * Eager, layer-by-layer execution of a functional tfjs LayersModel (including DAGs such as the U-Net's skips), with
 * the values of every internal tensor at hand. tfjs only feeds a model at its inputs; Grad-CAM needs to feed an
 * internal activation (the variable the gradient is taken against), so the graph is walked here instead.
 * Callers run this inside `tf.tidy`: the returned tensors are not kept anywhere else.
 */
import * as tf from '@tensorflow/tfjs';
import { LvsegError } from '@lvseg/common';

/** Values of a model's symbolic tensors, keyed by `SymbolicTensor.id`. */
export type TensorValues = Map<number, tf.Tensor>;

type GraphLayer = tf.layers.Layer;

interface LayerStep {
  layer: GraphLayer;
  inputIds: number[];
  outputIds: number[];
}

const plans = new WeakMap<tf.LayersModel, LayerStep[]>();

/** The model's layers in topological order with the ids of the tensors each consumes and produces (cached). */
function planOf(model: tf.LayersModel): LayerStep[] {
  const cached = plans.get(model);
  if (cached) return cached;
  const inputIds = new Set(model.inputs.map((s) => s.id));
  const steps: LayerStep[] = [];
  // Container.layers is sorted by depth, i.e. topologically: every layer comes after the layers it reads.
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    const nodes = layer.inboundNodes.filter((n) => n.inputTensors.length > 0);
    if (nodes.length !== 1) {
      throw new LvsegError('unsupported', 'EXPLAIN_SHARED_LAYER', `layer ${layer.name} is called ${nodes.length} times in the model; heatmaps need each layer called once`);
    }
    steps.push({ layer, inputIds: nodes[0].inputTensors.map((s) => s.id), outputIds: nodes[0].outputTensors.map((s) => s.id) });
  }
  if (!steps.length || !model.inputs.every((s) => inputIds.has(s.id))) {
    throw new LvsegError('unsupported', 'EXPLAIN_MODEL_SHAPE', 'the model has no layers to explain');
  }
  plans.set(model, steps);
  return steps;
}

/** Index (in execution order) of the layer called `name`; 'invalid-input' listing the names when unknown. */
export function layerStepIndex(model: tf.LayersModel, name: string): number {
  const steps = planOf(model);
  const i = steps.findIndex((s) => s.layer.name === name);
  if (i < 0) throw new LvsegError('invalid-input', 'UNKNOWN_LAYER', `the model has no layer ${JSON.stringify(name)}`);
  return i;
}

/** Id of the (single) output tensor of layer `name`. */
export function layerOutputId(model: tf.LayersModel, name: string): number {
  const step = planOf(model)[layerStepIndex(model, name)];
  if (step.outputIds.length !== 1) throw new LvsegError('unsupported', 'EXPLAIN_MULTI_OUTPUT_LAYER', `layer ${name} has ${step.outputIds.length} outputs`);
  return step.outputIds[0];
}

/** Values with the model's inputs set, ready for `runLayers`. */
export function feedInputs(model: tf.LayersModel, inputs: tf.Tensor[]): TensorValues {
  if (inputs.length !== model.inputs.length) throw new Error(`model takes ${model.inputs.length} inputs, got ${inputs.length}`);
  return new Map(model.inputs.map((s, i) => [s.id, inputs[i]]));
}

/**
 * Runs the layers with execution index in [from, to] (inclusive) on `values`, adding their outputs. A layer whose
 * output is already in `values` is skipped, which is how a caller substitutes an activation.
 */
export function runLayers(model: tf.LayersModel, values: TensorValues, from = 0, to = Number.POSITIVE_INFINITY): TensorValues {
  const steps = planOf(model);
  for (let i = Math.max(0, from); i <= Math.min(to, steps.length - 1); i++) {
    const step = steps[i];
    if (step.outputIds.every((id) => values.has(id))) continue;
    const ins = step.inputIds.map((id) => {
      const v = values.get(id);
      if (v === undefined) throw new Error(`layer ${step.layer.name} reads a tensor that was not computed`);
      return v;
    });
    // Inference mode: batch norm uses its moving statistics, dropout is off.
    const out = step.layer.apply(ins.length === 1 ? ins[0] : ins, { training: false }) as tf.Tensor | tf.Tensor[];
    const outs = Array.isArray(out) ? out : [out];
    step.outputIds.forEach((id, k) => values.set(id, outs[k]));
  }
  return values;
}

/** The model's output tensors from a fully run `values`. */
export function modelOutputs(model: tf.LayersModel, values: TensorValues): tf.Tensor[] {
  return model.outputs.map((s) => {
    const v = values.get(s.id);
    if (v === undefined) throw new Error('model output was not computed');
    return v;
  });
}
