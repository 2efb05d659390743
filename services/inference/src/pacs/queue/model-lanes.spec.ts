import pino from 'pino';
import { ModelLane, ModelLanes } from './model-lanes';

/** The model versions a worker keeps loaded: built once per version, at most `max`, the least recently used idle one closed. */
describe('ModelLanes', () => {
  function setup(max: number, failing = new Set<string>()) {
    const built: string[] = [];
    const closed: string[] = [];
    const lanes = new ModelLanes(
      async (v): Promise<ModelLane> => {
        built.push(v);
        await new Promise((r) => setTimeout(r, 5));
        if (failing.has(v)) throw new Error(`cannot load ${v}`);
        return { segmenter: { process: async () => ({ outcome: 'segmented', modelVersion: v }) }, close: async () => void closed.push(v) };
      },
      max,
      pino({ level: 'silent' }),
    );
    return { lanes, built, closed };
  }

  it('builds a version once, even for concurrent jobs', async () => {
    const { lanes, built } = setup(2);
    const [a, b] = await Promise.all([lanes.acquire('v1'), lanes.acquire('v1')]);
    expect(built).toEqual(['v1']);
    expect((await a.segmenter.process({ studyInstanceUid: '1', seriesInstanceUid: '1.1' }, 'j')).modelVersion).toBe('v1');
    a.release();
    b.release();
  });

  it('closes the least recently used idle version past max, never one in use', async () => {
    const { lanes, closed } = setup(1);
    const v1 = await lanes.acquire('v1');
    const v2 = await lanes.acquire('v2');
    await new Promise((r) => setTimeout(r, 10));
    expect(closed).toEqual([]); // both in use
    v1.release();
    await new Promise((r) => setTimeout(r, 10));
    expect(closed).toEqual(['v1']);
    expect(lanes.loaded).toEqual(['v2']);
    v2.release();
    await lanes.closeAll();
    expect(closed).toEqual(['v1', 'v2']);
  });

  it('builds a version that failed to load again for the next job', async () => {
    const failing = new Set(['v1']);
    const { lanes, built } = setup(2, failing);
    await expect(lanes.acquire('v1')).rejects.toThrow('cannot load v1');
    failing.clear();
    (await lanes.acquire('v1')).release();
    expect(built).toEqual(['v1', 'v1']);
  });
});
