/**
 * Dockerfile.gpu parsed with dockerfile-ast: pinned bases (ARG defaults resolved), the CUDA/cuDNN that
 * tfjs-node-gpu 4.x needs, a non-root final user, the health check, both variants resolvable, and a runtime stage
 * without build tools. Building it needs a Docker engine (docker-image.spec.ts).
 */
import { dockerfileViolations, parseDockerfile } from './support/dockerfile-rules';
import { readRepoFile } from './support/repo-files';

const text = readRepoFile('Dockerfile.gpu');
const dockerfile = parseDockerfile(text);
const { args, froms, stageNames } = dockerfile;
const runtimeInstructions = dockerfile.stage(froms.at(-1)!);
const pkg = JSON.parse(readRepoFile('package.json'));

describe('Dockerfile.gpu', () => {
  it('is multi-stage: node, build, runtime-gpu, runtime-cpu, deps, runtime', () => {
    expect(stageNames).toEqual(['node', 'build', 'runtime-gpu', 'runtime-cpu', 'deps', 'runtime']);
    expect(args.VARIANT).toBe('gpu');
  });

  it('follows the rules: pinned bases for both variants, numeric non-root USER, /health/live HEALTHCHECK, no compilers at run time', () => {
    expect(dockerfileViolations(text)).toEqual([]);
  });

  it.each(['gpu', 'cpu'])('resolves VARIANT=%s to its runtime stage, and every COPY --from to a stage', (variant) => {
    expect(dockerfile.image(froms[stageNames.indexOf('deps')], { VARIANT: variant })).toBe(`runtime-${variant}`);
    expect(dockerfile.image(froms.at(-1)!, { VARIANT: variant })).toBe(`runtime-${variant}`);
    const copies = froms.flatMap((f) => dockerfile.stage(f)).filter((i) => i.getKeyword() === 'COPY');
    const fromStages = copies.map((c) => /--from=(\S+)/.exec(c.getTextContent())?.[1]).filter(Boolean);
    expect(new Set(fromStages)).toEqual(new Set(['node', 'build', 'deps']));
  });

  it.each([
    ['an unpinned base', (t: string) => t.replace('ARG NODE_IMAGE=node:20.18.1-bookworm-slim', 'ARG NODE_IMAGE=node'), ['VARIANT=gpu: FROM image "node" has no tag (means latest)', 'VARIANT=cpu: FROM image "node" has no tag (means latest)']],
    ['a latest base', (t: string) => t.replace(/ARG CUDA_IMAGE=\S+/, 'ARG CUDA_IMAGE=nvidia/cuda:latest'), ['VARIANT=gpu: FROM image "nvidia/cuda:latest" uses the latest tag']],
    ['no USER', (t: string) => t.replace('USER 10001:10001\n', ''), ['final stage: no USER (runs as root)']],
    ['USER root', (t: string) => t.replace('USER 10001:10001', 'USER 0'), ['final stage: USER 0 is root']],
    ['a named USER', (t: string) => t.replace('USER 10001:10001', 'USER lvseg'), ['final stage: USER lvseg is not numeric (Kubernetes cannot verify runAsNonRoot)']],
    ['no HEALTHCHECK', (t: string) => t.replace(/HEALTHCHECK[^\n]*\\\n[^\n]*\n/, ''), ['final stage: no HEALTHCHECK']],
    ['a HEALTHCHECK elsewhere', (t: string) => t.replace("path: '/health/live'", "path: '/'"), ['final stage: HEALTHCHECK does not probe /health/live']],
    ['compilers in the runtime', (t: string) => t.replace('USER 10001:10001', 'RUN apt-get install -y g++\nUSER 10001:10001'), ['final stage: installs build tools (apt-get install -y g++…)']],
  ])('rejects a copy with %s', (_, breakIt, expected) => {
    const broken = breakIt(text);
    expect(broken).not.toBe(text);
    expect(dockerfileViolations(broken)).toEqual(expected);
  });

  it('rejects a variant that has no runtime stage', () => {
    expect(dockerfileViolations(text, ['tpu'])).toEqual(['VARIANT=tpu: FROM image "runtime-tpu" has no tag (means latest)', 'VARIANT=tpu: FROM image "runtime-tpu" has no tag (means latest)']);
  });

  it('runs the GPU variant on CUDA 11.2 + cuDNN 8 (what libtensorflow 2.9 under tfjs-node-gpu 4.x was built with)', () => {
    expect(args.CUDA_IMAGE).toMatch(/^nvidia\/cuda:11\.2\.\d+-cudnn8-runtime-ubuntu\d+\.\d+$/);
    // That pairing holds for tfjs 4.x only: a new tfjs major must re-check the CUDA base.
    expect(pkg.dependencies['@tensorflow/tfjs']).toMatch(/^4\./);
    expect(text).toContain("gpu) pkg=@tensorflow/tfjs-node-gpu ;;");
    expect(text).toContain("cpu) pkg=@tensorflow/tfjs-node ;;");
    // Installed at the version of @tensorflow/tfjs, read from package.json at build time.
    expect(text).toContain(`tfjs="$(node -p "require('./package.json').dependencies['@tensorflow/tfjs']")"`);
    expect(text).toContain('"${pkg}@${tfjs}"');
    expect(args.NODE_IMAGE).toMatch(new RegExp(`^node:${pkg.engines.node.replace('>=', '')}\\.\\d+\\.\\d+-`));
  });

  it('runs as a numeric non-root user in the final stage', () => {
    const users = runtimeInstructions.filter((i) => i.getKeyword() === 'USER').map((i) => i.getArgumentsContent()!);
    expect(users).toEqual(['10001:10001']);
    const [uid, gid] = users[0].split(':').map(Number);
    expect(uid).toBeGreaterThan(0);
    expect(gid).toBeGreaterThan(0);
    expect(text).toContain(`useradd --system --uid ${uid} --gid ${gid} `);
    // Nothing after USER switches back to root.
    const last = runtimeInstructions.at(-1)!;
    expect(runtimeInstructions.filter((i) => i.getKeyword() === 'USER').at(-1)!.getRange().start.line).toBeLessThan(last.getRange().start.line);
  });

  it('health-checks /health/live and runs the inference service by default, under tini', () => {
    const hc = runtimeInstructions.filter((i) => i.getKeyword() === 'HEALTHCHECK');
    expect(hc).toHaveLength(1);
    expect(hc[0].getTextContent()).toMatch(/^HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \\\n +CMD \["node", "-e", /);
    expect(hc[0].getArgumentsContent()).toContain("path: '/health/live'");
    expect(hc[0].getArgumentsContent()).toContain('r.statusCode === 200 ? 0 : 1');
    const entry = runtimeInstructions.find((i) => i.getKeyword() === 'ENTRYPOINT')!;
    expect(JSON.parse(entry.getArgumentsContent()!)).toEqual(['tini', '--']);
    const cmd = runtimeInstructions.find((i) => i.getKeyword() === 'CMD')!;
    expect(JSON.parse(cmd.getArgumentsContent()!)).toEqual(['node', '--initial-old-space-size=256', 'dist/services/inference/src/main.js']);
  });

  it('keeps compilers and dev dependencies out of the runtime stage', () => {
    const runtimeText = runtimeInstructions.map((i) => i.getTextContent()).join('\n');
    expect(runtimeText).not.toMatch(/apt-get install|g\+\+|python3|npm (ci|install)/);
    // node_modules come from deps, which installs with --omit=dev.
    expect(runtimeText).toContain('COPY --from=deps /app/node_modules ./node_modules');
    const deps = dockerfile.stage(froms[stageNames.indexOf('deps')]).map((i) => i.getTextContent()).join('\n');
    expect(deps).toContain('npm ci --omit=dev');
  });

  it('.dockerignore keeps secrets, dependencies and build output out of the context', () => {
    const ignored = readRepoFile('.dockerignore').split('\n');
    for (const entry of ['.env', '.env.*', 'node_modules', 'dist', '.git', 'var']) expect(ignored).toContain(entry);
    expect(ignored).not.toContain('models');
  });
});
