#!/usr/bin/env -S node --initial-old-space-size=256
import { Command, Option } from 'commander';
import { LvsegError, isLvsegError } from '@lvseg/common';
import { ARCHITECTURES, BIAS_VARIANTS, CASCADE_ARCHITECTURE, INITIALIZERS, LOSS_NAMES, cascadeConfigFor, disposeLvModel, ZoomSpec, initBackend, TrainConfig, trainConfigFor } from '@lvseg/model';
import { promote, openConfiguredRunStore, openConfiguredStore } from '@lvseg/model-store';
import { LvsegConfig, loadConfig } from '@lvseg/config';
import { evalProgress, progressHooks } from './progress';
import { comparedWithProduction, loadInitModel, loadResume, publishTrained, trainAndEvaluate, trainAndPublish } from './commands/train';
import { evaluateModel, formatEval, writeEfPlot } from './commands/eval';
import { formatLeaderboard, LeaderboardRow, parseNumberList, searchGrid } from './commands/search';
import { runReport } from './commands/report';
import { runDatasetImport } from './commands/dataset-import';
import { registerQuantizeCommand } from './commands/quantize';
import { registerQueueCommands } from './commands/queue';

const num = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got "${v}"`);
  return n;
};

const zoomOption = (v: string): ZoomSpec => {
  const parts = v.split(',').map(Number);
  if (parts.length !== 3 || !parts.every(Number.isFinite)) throw new Error(`--zoom takes three numbers factor,minMm,maxShare, got "${v}"`);
  return { factor: parts[0], minSideMm: parts[1], maxShare: parts[2] };
};

function trainOverrides(o: Record<string, unknown>): Partial<TrainConfig> {
  return {
    learningRate: o.learningRate as number | undefined,
    decayRate: o.decayRate as number | undefined,
    decaySteps: o.decaySteps as number | undefined,
    epochs: o.epochs as number | undefined,
    batchSize: o.batchSize as number | undefined,
    seed: o.seed as number | undefined,
    optimizer: o.optimizer as TrainConfig['optimizer'] | undefined,
    loss: o.loss as TrainConfig['loss'] | undefined,
    crop: o.crop as number | undefined,
    valEvery: o.valEvery as number | undefined,
    initializer: o.initializer as TrainConfig['initializer'],
    bias: o.bias as TrainConfig['bias'],
    inputScaling: o.inputScaling as TrainConfig['inputScaling'],
    workers: o.workers as number | undefined,
    averageFrom: o.averageFrom as number | undefined,
  };
}

/** The cascade options of `lvseg train` / `lvseg search` (commander's parsed options), as `trainAndEvaluate` takes them. */
function cascadeOptions(o: Record<string, unknown>) {
  return {
    localiserEpochs: o.localiserEpochs as number | undefined,
    localiserOverrides: { learningRate: o.localiserLearningRate as number | undefined, loss: o.localiserLoss as TrainConfig['loss'] | undefined },
    localiserCoverage: o.localiserCoverage as number | undefined,
    localiserNegatives: o.localiserNegatives as number | undefined,
    segmenterSize: o.segmenterSize as number | undefined,
    localiserSize: o.localiserSize as number | undefined,
    roiSideMm: o.roiMm as number | undefined,
    zoom: o.zoom as ZoomSpec | undefined,
    smallLvRepeats: o.smallLvRepeats as number | undefined,
    segmenterArch: o.segmenterArch as string | undefined,
  };
}

/** Epochs of a whole run (a cascade: both stages). */
function totalEpochs(arch: string, overrides: Partial<TrainConfig>, localiserEpochs?: number): number {
  if (arch !== CASCADE_ARCHITECTURE) return trainConfigFor(arch, overrides).epochs;
  const c = cascadeConfigFor({ localiser: { epochs: localiserEpochs }, segmenter: overrides });
  return c.localiser.epochs + c.segmenter.epochs;
}

function addTrainOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--arch <name>', 'architecture').choices([...Object.keys(ARCHITECTURES), CASCADE_ARCHITECTURE]).default('unet-small'))
    .option('--localiser-epochs <n>', 'cascade: epochs of the localiser stage (the other options set the segmenter stage)', num('localiser-epochs'))
    .option('--localiser-learning-rate <x>', 'cascade: the localiser stage\'s initial learning rate (default 0.002)', num('localiser-learning-rate'))
    .addOption(new Option('--localiser-loss <name>', 'cascade: the localiser stage\'s loss (default ce+dice)').choices([...LOSS_NAMES]))
    .option('--localiser-negatives <share>', 'cascade: share of the localiser\'s training images replaced by images with no LV (noise, regions of the image away from its LV) and an empty target (default 0)', num('localiser-negatives'))
    .option('--localiser-coverage <share>', 'cascade: a localiser pixel is LV in its target where at least this share of it is expert LV (default 0.5; lower gives the smallest cavities a target)', num('localiser-coverage'))
    .addOption(new Option('--segmenter-arch <name>', 'cascade: the segmenter\'s architecture (with --init-from a cascade of another segmenter, only its localiser is reused)').choices(['unet-small', 'unet-tiny']))
    .option('--localiser-size <n>', 'cascade: side of the localiser\'s input, in pixels (32, 64, 128 or 256; default 64; the whole image is resampled to it)', num('localiser-size'))
    .option('--segmenter-size <n>', 'cascade: side of the segmenter\'s input, in pixels (a multiple of 16; the ROI is resampled to it)', num('segmenter-size'))
    .option('--roi-mm <mm>', 'cascade: side of the segmenter\'s square region of interest, in mm (default 131.25; a PNG without PixelSpacing spans 350 mm)', num('roi-mm'))
    .option('--zoom <factor,minMm,maxShare>', 'cascade: a second look at small LVs on a region factor × the first mask\'s equivalent diameter (at least minMm), where that is below maxShare × the ROI; e.g. 3.5,48,0.85', zoomOption)
    .option('--small-lv-repeats <n>', 'cascade: each epoch, the train images whose LV is in the smallest quarter by area are seen n more times (default 0)', num('small-lv-repeats'))
    .option('--data <dir>', 'data set folder with manifest.csv (default: <data root>/sunnybrook-png)')
    .option('--batch-size <n>', 'images per step', num('batch-size'))
    .option('--seed <n>', 'random seed (weights, shuffling, augmentation)', num('seed'))
    .addOption(new Option('--optimizer <name>', 'optimizer').choices(['sgd', 'momentum', 'adam']))
    .addOption(new Option('--loss <name>', 'loss').choices([...LOSS_NAMES]))
    .option('--crop <n>', 'train on random crops of this side (0 = whole images)', num('crop'))
    .option('--val-every <n>', 'evaluate on val every N epochs', num('val-every'))
    .option('--average-from <epoch>', 'weight averaging (SWA): from this epoch on, val selects and keeps the running mean of the epoch-end weights (a cascade: of the segmenter)', num('average-from'))
    .option('--workers <n>', 'worker threads computing each step\'s gradients on shards of the batch (data-parallel; default 1: the main thread)', num('workers'))
    .addOption(new Option('--initializer <name>', "fresh weights (fcn-paper): the architecture's default, or the paper lab's truncated normal with stddev 0.1").choices(INITIALIZERS))
    .addOption(new Option('--bias <variant>', 'convolution biases (fcn-paper): zero-initialised, or none as in one variant of the paper lab').choices(BIAS_VARIANTS))
    .option('--input-scaling <name>', "model input (fcn-paper; recorded on the card, served the same way): normalize (default: per-image 0.5th/99.5th percentiles to [0, 1]) or raw-1024 (the paper lab's: modality pixel value / 1024, no min-max; on the PNG set, already min-max scaled to 0-255 by its maker, that is value / 1024)")
    .addOption(new Option('--protocol <name>', 'by-patient: fit on split=train, select on split=val; paper: per-image 90/10 split of split=train').choices(['by-patient', 'paper']).default('by-patient'));
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('lvseg').description('Left-ventricle segmentation: train, evaluate and manage versioned models.').showHelpAfterError();
  let exitCode = 0;
  // Every environment variable is read and checked here, once (libs/config/src/schema.ts); commands get this object.
  let cfg: LvsegConfig;
  try {
    cfg = loadConfig();
  } catch (e) {
    return failed(e);
  }
  const backend = async () => {
    const info = await initBackend({ forced: cfg.backend });
    process.stderr.write(`tfjs backend: ${info.name} (${info.reason})\n`);
    return info;
  };

  addTrainOptions(program.command('train').description('train an architecture and publish a new model version'))
    .option('--learning-rate <x>', 'initial learning rate', num('learning-rate'))
    .option('--decay-rate <x>', 'learning-rate decay factor', num('decay-rate'))
    .option('--decay-steps <n>', 'steps between decays (staircase)', num('decay-steps'))
    .option('--epochs <n>', 'epochs', num('epochs'))
    .option('--promote <alias>', 'also point this alias at the new version (subject to the Dice bar)')
    .option('--notes <text>', 'free text recorded on the model card')
    .option('--init-from <version>', 'start from the weights of this version or alias of the same architecture (fine-tuning)')
    .option('--resume <version>', "go on with a version's run (a single network): its architecture, protocol and recipe from its card, from its weights at its kept epoch; give --epochs for the new total (plain sgd: continues the run exactly)")
    .option('--heatmap-every <n>', 'record per-layer activation heatmaps of one val image every N epochs (plus the first and last; 0: only those)', num('heatmap-every'), 5)
    .option('--no-publish', 'train and evaluate only: publish no version')
    .action(async (o) => {
      const store = openConfiguredStore(cfg);
      if (!o.publish && o.promote) throw new LvsegError('invalid-input', 'INVALID_TRAIN_OPTION', '--promote needs a published version: drop --no-publish');
      const info = await backend();
      const data = o.data ?? `${cfg.dataDir}/sunnybrook-png`;
      const overrides = trainOverrides(o);
      const recording = { store: openConfiguredRunStore(cfg), heatmapEvery: o.heatmapEvery };
      if (o.resume && o.initFrom) throw new LvsegError('invalid-input', 'INVALID_TRAIN_OPTION', '--resume and --init-from both name the starting weights: give one');
      const resumed = o.resume ? await loadResume(store, o.resume, overrides) : undefined;
      const init = resumed?.init ?? (o.initFrom ? await loadInitModel(store, o.initFrom) : undefined);
      const opts = { arch: o.arch, data, overrides, protocol: o.protocol, notes: o.notes, recording, gitCommit: cfg.gitCommit, ...cascadeOptions(o), ...resumed, init };
      const hooks = progressHooks(totalEpochs(opts.arch, opts.overrides, o.localiserEpochs));
      let published: Awaited<ReturnType<typeof trainAndPublish>>;
      try {
        if (!o.publish) {
          const t = await trainAndEvaluate(opts, hooks);
          await t.recorder?.finish();
          process.stdout.write(`not published (--no-publish)  train Dice ${t.train.dice.toFixed(4)}  val Dice ${t.val.dice.toFixed(4)}\n`);
          disposeLvModel(t.lvModel);
          return;
        }
        published = await trainAndPublish(store, info, opts, hooks);
      } finally {
        if (init) disposeLvModel(init.model); // its weights were copied into the new model at the start
      }
      const { trained, card } = published;
      process.stdout.write(`published ${card.version}  train Dice ${trained.train.dice.toFixed(4)}  val Dice ${trained.val.dice.toFixed(4)}  (${store.uri})\n`);
      const warning = await comparedWithProduction(store, card);
      if (warning) process.stderr.write(`\nWARNING: ${warning}\n\n`);
      if (o.promote) {
        const r = await promote(store, { alias: o.promote, version: card.version, minDice: cfg.minPromoteDice, force: false, reason: 'lvseg train --promote' });
        process.stdout.write(`${o.promote}: ${r.previous ?? '(none)'} -> ${r.current}\n`);
      }
    });

  addTrainOptions(program.command('search').description('parameter search over learning rate, decay rate, decay steps and epochs; prints a leaderboard'))
    .option('--learning-rate <list>', 'comma list', '0.01,0.03')
    .option('--decay-rate <list>', 'comma list', '0.75')
    .option('--decay-steps <list>', 'comma list', '10000')
    .option('--epochs <list>', 'comma list', '10')
    .option('--publish', 'publish every trained model as a version', false)
    .action(async (o) => {
      const store = openConfiguredStore(cfg);
      const info = await backend();
      const data = o.data ?? `${cfg.dataDir}/sunnybrook-png`;
      const grid = searchGrid({
        learningRate: parseNumberList('learning-rate', o.learningRate),
        decayRate: parseNumberList('decay-rate', o.decayRate),
        decaySteps: parseNumberList('decay-steps', o.decaySteps),
        epochs: parseNumberList('epochs', o.epochs),
      });
      const rows: LeaderboardRow[] = [];
      for (const [k, params] of grid.entries()) {
        process.stderr.write(`\n[${k + 1}/${grid.length}] ${JSON.stringify(params)}\n`);
        const overrides = { ...trainOverrides(o), ...params };
        const t = await trainAndEvaluate({ arch: o.arch, data, overrides, protocol: o.protocol, ...cascadeOptions(o) }, progressHooks(totalEpochs(o.arch, overrides, o.localiserEpochs)));
        const version = o.publish ? (await publishTrained(store, info, t, undefined, cfg.gitCommit)).version : undefined;
        rows.push({ rank: 0, params, valDice: t.val.dice, valPixelAccuracy: t.val.pixelAccuracy, trainDice: t.train.dice, bestEpoch: t.result.bestEpoch, ms: t.result.trainMs, version });
        disposeLvModel(t.lvModel);
      }
      rows.sort((a, b) => b.valDice - a.valDice).forEach((r, i) => (r.rank = i + 1));
      process.stdout.write(formatLeaderboard(rows) + '\n');
    });

  program
    .command('eval')
    .description('evaluate a model (version, alias or folder) on a data split; exits 1 below --min-dice')
    .requiredOption('--model <ref>', 'version id, alias (e.g. production) or a folder with model.json')
    .option('--zoom <factor,minMm,maxShare>', 'cascade: a second look at small LVs on a region factor × the first mask\'s equivalent diameter (at least minMm), where that is below maxShare × the ROI; e.g. 3.5,48,0.85', zoomOption)
    .option('--data <dir>', 'data set folder with manifest.csv (default: <data root>/sunnybrook-png)')
    .option('--split <name>', "split to evaluate; paper-holdout: the paper protocol's seeded per-image 10 % holdout of split=train", 'val')
    .option('--min-dice <x>', 'exit 1 when mean Dice is below this', num('min-dice'))
    .option('--json', 'print one JSON object on stdout', false)
    .option('--series', "segment each case's images together as one series (a cascade then uses the series' consensus LV position)", false)
    .option('--plot <file.svg>', 'write a Bland–Altman plot of model vs expert EF (one point per patient) as a standalone SVG')
    .action(async (o) => {
      const store = openConfiguredStore(cfg);
      await backend();
      const r = await evaluateModel(store, o.model, o.data ?? `${cfg.dataDir}/sunnybrook-png`, o.split, { series: o.series, onProgress: evalProgress(`eval ${o.model} on ${o.split}`) });
      if (o.plot) await writeEfPlot(r, o.plot);
      if (o.json) process.stdout.write(JSON.stringify({ ...r, ...r.report, minDice: o.minDice ?? null, passed: o.minDice === undefined || r.report.meanDice >= o.minDice }) + '\n');
      else process.stdout.write(formatEval(r) + '\n');
      if (o.minDice !== undefined && !(r.report.meanDice >= o.minDice)) {
        process.stderr.write(`Dice gate failed: mean Dice ${r.report.meanDice.toFixed(4)} < ${o.minDice}\n`);
        exitCode = 1;
      } else if (o.minDice !== undefined) process.stderr.write(`Dice gate passed: mean Dice ${r.report.meanDice.toFixed(4)} >= ${o.minDice}\n`);
    });

  program
    .command('report')
    .description('pre-modelling data set report: writes a self-contained index.html and report.json (know the data)')
    .option('--zoom <factor,minMm,maxShare>', 'cascade: a second look at small LVs on a region factor × the first mask\'s equivalent diameter (at least minMm), where that is below maxShare × the ROI; e.g. 3.5,48,0.85', zoomOption)
    .option('--data <dir>', 'data set folder with manifest.csv (default: <data root>/sunnybrook-png)')
    .option('--out <dir>', 'output folder for index.html and report.json (required)')
    .option('--examples <n>', 'example images per split', num('examples'), 3)
    .option('--phases-per-slice <n>', 'cine phases per slice position, for the ED/ES rule', num('phases-per-slice'), 20)
    .option('--model <ref>', 'also segment --model-split with this model (version, alias or folder) and add its EF against the expert\'s (Bland–Altman)')
    .option('--model-split <name>', 'split the --model segments', 'val')
    .action(async (o) => {
      const evaluate = async (ref: string, data: string, split: string) => {
        const store = openConfiguredStore(cfg);
        await backend();
        return evaluateModel(store, ref, data, split);
      };
      const opts = { data: o.data ?? `${cfg.dataDir}/sunnybrook-png`, out: o.out, examples: o.examples, phasesPerSlice: o.phasesPerSlice, model: o.model, modelSplit: o.modelSplit };
      process.stdout.write((await runReport(opts, evaluate)) + '\n');
    });

  const list = (v: string, prev: string[] = []) => [...prev, ...v.split(',').map((x) => x.trim()).filter(Boolean)];
  program
    .command('dataset')
    .description('build data sets')
    .command('import')
    .description("build a data set folder (manifest layout) from expert DICOM SEGs and RT Structure Sets in a folder or the PACS")
    .option('--from <folder>', 'a folder of DICOM files (images, SEGs, RTSTRUCTs; any layout)')
    .option('--from-pacs <dicomweb-url>', 'a PACS DICOMweb base URL, e.g. http://orthanc:8042/dicom-web (credentials: PACS_USERNAME, PACS_PASSWORD)')
    .requiredOption('--out <dir>', 'the data set folder to create (must not exist)')
    .option('--lv-label <names>', 'segment labels / ROI names that mean the LV blood pool (comma list, repeatable; case-insensitive)', list)
    .option('--lv-code <SCHEME:VALUE>', 'segment property type codes that mean the LV (comma list, repeatable; default SCT:87878005)', list)
    .option('--site-secret <secret>', 'key of the case pseudonyms (default: LVSEG_SITE_SECRET); keep it to import the same patients under the same ids')
    .option('--include-lvseg-unreviewed', "also use lvseg's own automatic SEGs that nobody reviewed", false)
    .option('--val-fraction <x>', 'share of patients in the val split', num('val-fraction'), 0.2)
    .action(async (o) => {
      const { text } = await runDatasetImport(o, cfg.datasetImport, (line) => process.stderr.write(`${line}\n`));
      process.stdout.write(text + '\n');
    });

  registerQueueCommands(program, cfg);

  const models = program.command('models').description('list, show, promote and roll back model versions');
  registerQuantizeCommand(models, cfg);
  models
    .command('list')
    .option('--json', 'JSON output', false)
    .action(async (o) => {
      const store = openConfiguredStore(cfg);
      const [cards, aliases] = await Promise.all([store.list(), store.aliases()]);
      if (o.json) return void process.stdout.write(JSON.stringify({ aliases, versions: cards }) + '\n');
      const byVersion = new Map<string, string[]>();
      for (const [a, v] of Object.entries(aliases)) byVersion.set(v, [...(byVersion.get(v) ?? []), a]);
      process.stdout.write(`store ${store.uri}\n`);
      for (const c of cards) {
        const val = (c.metrics as Record<string, { dice?: number }>).val?.dice;
        process.stdout.write(`${c.version.padEnd(44)} ${c.architecture.padEnd(11)} val Dice ${val === undefined ? '-' : val.toFixed(4)}  ${c.createdAt}  ${(byVersion.get(c.version) ?? []).join(',')}\n`);
      }
    });
  models
    .command('show <ref>')
    .description('print the model card of a version or alias')
    .action(async (ref) => {
      const store = openConfiguredStore(cfg);
      process.stdout.write(JSON.stringify(await store.getCard(ref), null, 2) + '\n');
    });
  models
    .command('promote <version>')
    .description('point an alias (default production) at a version; refuses one below the Dice bar unless --force')
    .option('--alias <name>', 'alias', 'production')
    .option('--force', 'promote even below the Dice bar', false)
    .option('--min-dice <x>', 'Dice bar (default LVSEG_MIN_PROMOTE_DICE or 0.8)', num('min-dice'))
    .option('--reason <text>', 'recorded in the alias history')
    .action(async (version, o) => {
      const store = openConfiguredStore(cfg);
      const r = await promote(store, { alias: o.alias, version, minDice: o.minDice ?? cfg.minPromoteDice, force: o.force, reason: o.reason ?? 'lvseg models promote' });
      process.stdout.write(`${o.alias}: ${r.previous ?? '(none)'} -> ${r.current}\n`);
    });
  models
    .command('rollback')
    .description('move an alias back to its previous version')
    .option('--alias <name>', 'alias', 'production')
    .action(async (o) => {
      const store = openConfiguredStore(cfg);
      const r = await store.rollback(o.alias, { reason: 'lvseg models rollback' });
      process.stdout.write(`${o.alias}: ${r.previous ?? '(none)'} -> ${r.current}\n`);
    });

  models
    .command('delete <version...>')
    .description('delete versions that no alias points at or would roll back to (refused otherwise)')
    .action(async (versions: string[]) => {
      const store = openConfiguredStore(cfg);
      for (const v of versions) {
        await store.delete(v);
        process.stdout.write(`deleted ${v}\n`);
      }
    });

  try {
    await program.parseAsync(argv);
  } catch (e) {
    return failed(e);
  }
  return exitCode;
}

/** One line on stderr naming the problem (and its code), exit status 2. */
function failed(e: unknown): number {
  if (isLvsegError(e)) process.stderr.write(`lvseg: ${e.message} [${e.code}]\n`);
  else process.stderr.write(`lvseg: ${(e as Error).message}\n`);
  return 2;
}

// Exit only once stdout is flushed: a large --json report written to a pipe would otherwise be cut short.
main(process.argv).then((code) => {
  process.exitCode = code;
  process.stdout.write('', () => process.exit(code));
});
