import { StageClock } from './stage-clock';

describe('StageClock', () => {
  it('adds up a stage run several times and keeps the order stages first ran in', () => {
    const clock = new StageClock();
    clock.add('decode', 2);
    clock.add('predict', 5);
    clock.add('decode', 3);
    expect(clock.ms('decode')).toBe(5);
    expect(clock.ms('predict')).toBe(5);
    expect(clock.ms('metrics')).toBeUndefined();
    expect(clock.stages).toEqual(['decode', 'predict']);
  });

  it('times sync and async work, also when it throws, and passes the value through', async () => {
    const clock = new StageClock();
    expect(clock.time('postprocess', () => 42)).toBe(42);
    await expect(clock.timeAsync('predict', () => new Promise((resolve) => setTimeout(() => resolve('done'), 20)))).resolves.toBe('done');
    expect(() =>
      clock.time('label', () => {
        throw new Error('unreadable');
      }),
    ).toThrow('unreadable');
    await expect(clock.timeAsync('decode', () => Promise.reject(new Error('not DICOM')))).rejects.toThrow('not DICOM');
    expect(clock.stages).toEqual(['postprocess', 'predict', 'label', 'decode']);
    // setTimeout may fire a little early on some platforms; 15 ms of a 20 ms wait is a safe floor.
    expect(clock.ms('predict')!).toBeGreaterThanOrEqual(15);
    expect(clock.ms('postprocess')!).toBeGreaterThanOrEqual(0);
  });
});
