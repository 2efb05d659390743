import { mkdtempSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import { serveWebAssets, VENDOR_FILES, vendorFilePath } from './web-assets';

@Module({})
class EmptyModule {}

describe('web assets', () => {
  let app: NestExpressApplication;
  const web = mkdtempSync(join(tmpdir(), 'lvseg-web-'));

  beforeAll(async () => {
    writeFileSync(join(web, 'index.html'), '<!doctype html><title>viewer</title>');
    mkdirSync(join(web, 'monitor'));
    writeFileSync(join(web, 'monitor', 'index.html'), '<!doctype html><title>monitor</title>');
    app = await NestFactory.create<NestExpressApplication>(EmptyModule, { logger: false });
    serveWebAssets(app, web);
    await app.init();
  });
  afterAll(() => app.close());

  it('serves the pages from the web folder at / and /monitor/', async () => {
    const root = await request(app.getHttpServer()).get('/').expect(200);
    expect(root.text).toContain('<title>viewer</title>');
    const monitor = await request(app.getHttpServer()).get('/monitor/').expect(200);
    expect(monitor.text).toContain('<title>monitor</title>');
    await request(app.getHttpServer()).get('/monitor').expect(301);
  });

  it.each(Object.keys(VENDOR_FILES))('serves vendor file %s byte for byte from the installed package', async (name) => {
    const file = vendorFilePath(name)!;
    const res = await request(app.getHttpServer())
      .get(`/vendor/${name}`)
      .buffer(true)
      .parse((r, cb) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => cb(null, Buffer.concat(chunks)));
      })
      .expect(200);
    expect(res.headers['content-type']).toContain(VENDOR_FILES[name].type);
    expect((res.body as Buffer).length).toBe(statSync(file.path).size);
    expect((res.body as Buffer).equals(readFileSync(file.path))).toBe(true);
  });

  it('refuses names outside the fixed list, including traversal attempts, with a 404 and a reason', async () => {
    for (const name of ['package.json', '..%2Fpackage.json', '__proto__', 'tf.min.js.map']) {
      const res = await request(app.getHttpServer()).get(`/vendor/${name}`).expect(404);
      expect(res.body.error.code).toBe('VENDOR_FILE_NOT_FOUND');
      expect(res.body.error.message).toContain('tf.min.js');
    }
    expect(vendorFilePath('constructor')).toBeUndefined();
  });
});
