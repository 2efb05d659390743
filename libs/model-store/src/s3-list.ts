import type { Client } from 'minio';

/**
 * Keys under `prefix`, collected from the minio client's listing stream: every object name when `recursive`, else the
 * common prefixes one level down (one per "folder", e.g. one per run instead of each of its heat maps).
 */
export function listS3Keys(client: Client, bucket: string, prefix: string, recursive: boolean): Promise<string[]> {
  return new Promise<string[]>((resolve, reject) => {
    const found: string[] = [];
    const stream = client.listObjectsV2(bucket, prefix, recursive);
    stream.on('data', (item) => {
      const key = recursive ? item.name : item.prefix;
      if (key) found.push(key);
    });
    stream.on('error', reject);
    stream.on('end', () => resolve(found));
  });
}
