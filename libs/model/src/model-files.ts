/**
 * A tfjs layers model as bytes and back: what training publishes, the model store keeps and serving loads (the same
 * two files the browser fetches). Not part of training: serving, the ONNX export and the cascade use it too.
 */
import * as tf from '@tensorflow/tfjs';

/** The files of a tfjs layers model as the model store keeps them: `model.json` (topology + manifest) and `weights.bin`. */
export async function modelToFiles(model: tf.LayersModel): Promise<Map<string, Buffer>> {
  let files: Map<string, Buffer> | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = Buffer.from(artifacts.weightData as ArrayBuffer);
      const modelJson = {
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
      };
      files = new Map([
        ['model.json', Buffer.from(JSON.stringify(modelJson))],
        ['weights.bin', weights],
      ]);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weights.length } };
    }),
  );
  return files as Map<string, Buffer>;
}

/** Load a layers model from the files written by `modelToFiles`. */
export async function modelFromFiles(files: Map<string, Buffer>): Promise<tf.LayersModel> {
  const json = JSON.parse((files.get('model.json') as Buffer).toString('utf8'));
  const weights = files.get('weights.bin') as Buffer;
  const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer;
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData }));
}
