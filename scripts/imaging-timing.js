// In-process timings of the serving path's per-image JS work, for an A/B between two builds (BENCHMARKS.md "Serving
// main-thread work trimmed"). Plain JS over a build's dist/, so an older commit's build can be timed the same way:
//   node scripts/imaging-timing.js <repo root with dist/> [data root, default <repo>/../shared/data]
// Prints decodeDicomImage CPU ms per Sunnybrook frame (SCD0000101), selectedPercentiles ms per frame, and two
// micro-benchmarks of 256² mask loops (a property read per pixel on masks of 5 object shapes vs a local; data.some
// with a callback vs a plain loop). 3000 runs after warm-up each; numbers move with the machine's load.
const { readdirSync, readFileSync } = require('node:fs');
const { join, resolve } = require('node:path');

const root = resolve(process.argv[2] ?? '.');
const dataRoot = resolve(process.argv[3] ?? join(root, '..', 'shared', 'data'));
const { decodeDicomImage } = require(join(root, 'dist/libs/imaging/src/dicom.js'));
const { selectedPercentiles } = require(join(root, 'dist/libs/imaging/src/normalize.js'));
const walk = (d) => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith('.dcm') ? [join(d, e.name)] : []));
const N = 3000;
const ms = (t0) => Number(process.hrtime.bigint() - t0) / N / 1e6;

(async () => {
  const files = walk(join(dataRoot, 'sunnybrook-dicom', 'SCD0000101')).slice(0, 40).map((f) => readFileSync(f));
  for (let w = 0; w < 200; w++) await decodeDicomImage(files[w % files.length]);
  const c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) await decodeDicomImage(files[i % files.length]);
  const c = process.cpuUsage(c0);
  console.log(`decodeDicomImage: ${((c.user + c.system) / N / 1000).toFixed(3)} ms CPU per frame (${files.length} frames)`);

  const images = [];
  for (const f of files.slice(0, 20)) images.push((await decodeDicomImage(f)).image.data);
  for (let w = 0; w < 300; w++) selectedPercentiles(images[w % images.length], [0.5, 99.5]);
  let t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) selectedPercentiles(images[i % images.length], [0.5, 99.5]);
  console.log(`selectedPercentiles(0.5, 99.5): ${ms(t).toFixed(3)} ms per frame`);

  const shapes = [
    () => ({ rows: 256, columns: 256, data: new Uint8Array(65536) }),
    () => ({ data: new Uint8Array(65536), rows: 256, columns: 256 }),
    () => ({ rows: 256, data: new Uint8Array(65536), columns: 256 }),
    () => ({ columns: 256, rows: 256, data: new Uint8Array(65536) }),
    () => ({ a: 1, rows: 256, columns: 256, data: new Uint8Array(65536) }),
  ];
  const masks = Array.from({ length: 50 }, (_, k) => {
    const m = shapes[k % 5]();
    m.data[40000] = 1;
    return m;
  });
  const variants = {
    'area, property read per pixel': (m) => { let p = 0; for (let i = 0; i < m.data.length; i++) if (m.data[i]) p++; return p; },
    'area, array in a local': (m) => { const d = m.data; let p = 0; for (let i = 0; i < d.length; i++) if (d[i]) p++; return p; },
    'lvFound, data.some(callback)': (m) => m.data.some((v) => v !== 0),
    'lvFound, plain loop': (m) => { const d = m.data; for (let i = 0; i < d.length; i++) if (d[i] !== 0) return true; return false; },
  };
  for (const [name, f] of Object.entries(variants)) {
    for (let w = 0; w < 200; w++) f(masks[w % 50]);
    t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) f(masks[i % 50]);
    console.log(`${name}: ${ms(t).toFixed(3)} ms per 256² mask`);
  }
})();
