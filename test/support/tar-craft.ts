import zlib from 'node:zlib';

/** Hand-made tar archives for attack tests: any name, any entry type, no checks on the way in. */

export interface CraftedEntry {
  name: string;
  /** '0' file, '1' hard link, '2' symbolic link, '3' character device, '5' folder, '6' pipe. */
  type?: '0' | '1' | '2' | '3' | '5' | '6';
  data?: string | Buffer;
  linkname?: string;
  /** Size written in the header when the data is not given (for huge sparse entries). */
  size?: number;
}

function header(entry: CraftedEntry, size: number): Buffer {
  const block = Buffer.alloc(512, 0);
  const put = (text: string, offset: number, length: number) => block.write(text.slice(0, length), offset, length, 'utf8');
  const octal = (value: number, length: number) => value.toString(8).padStart(length - 1, '0') + '\0';
  put(entry.name, 0, 100);
  put(octal(entry.type === '5' ? 0o755 : 0o644, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(size, 12), 124, 12);
  put(octal(0, 12), 136, 12);
  put('        ', 148, 8);
  put(entry.type ?? '0', 156, 1);
  put(entry.linkname ?? '', 157, 100);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const byte of block) sum += byte;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return block;
}

/** A gzip-compressed tar archive of the entries, as written. */
export function craftTgz(entries: CraftedEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const data = entry.data === undefined ? Buffer.alloc(entry.size ?? 0) : Buffer.from(entry.data);
    parts.push(header(entry, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return zlib.gzipSync(Buffer.concat(parts), { level: 1 });
}

/** A minimal valid chart: Chart.yaml and one ConfigMap template that prints `.Files.Get file`. */
export function chartFiles(name: string, version: string, fileToPrint = 'files/data'): CraftedEntry[] {
  return [
    { name: `${name}/`, type: '5' },
    { name: `${name}/Chart.yaml`, data: `apiVersion: v2\nname: ${name}\nversion: ${version}\n` },
    { name: `${name}/templates/`, type: '5' },
    { name: `${name}/templates/leak.yaml`, data: `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leak\ndata:\n  leaked: {{ .Files.Get "${fileToPrint}" | quote }}\n` },
  ];
}
