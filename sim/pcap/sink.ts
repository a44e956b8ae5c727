import { closeSync, openSync, writeSync } from "node:fs";
import { IovError } from "../../src/errors.js";

/**
 * Where capture writers put bytes. Writers stream: each record is handed over as it is written, and a
 * sink holds at most one chunk before passing it on, so a capture of any length costs constant memory
 * (FileSink) or exactly its size (BufferSink).
 */
export interface ByteSink {
  /** Copies `length` bytes of `src` from `offset`; `src` may be reused by the caller afterwards. */
  write(src: Uint8Array, offset: number, length: number): void;
  /** Flushes and releases the sink; further writes throw. */
  close(): void;
}

const DEFAULT_BUFFER_CHUNK = 64 * 1024;
const DEFAULT_FILE_CHUNK = 1024 * 1024;

/** Collects the bytes in memory, in fixed-size chunks (no reallocation as the capture grows). */
export class BufferSink implements ByteSink {
  private readonly chunks: Uint8Array[] = [];
  private cur: Uint8Array;
  private used = 0;
  private closed = false;
  private total = 0;

  constructor(private readonly chunkBytes = DEFAULT_BUFFER_CHUNK) {
    if (!Number.isInteger(chunkBytes) || chunkBytes < 64)
      throw new IovError("EINVAL", `chunk size ${chunkBytes} must be an integer ≥ 64`, { chunkBytes });
    this.cur = new Uint8Array(chunkBytes);
  }

  get byteLength(): number {
    return this.total;
  }

  write(src: Uint8Array, offset: number, length: number): void {
    if (this.closed) throw new IovError("EINVAL", "write to a closed BufferSink");
    let off = offset;
    let left = length;
    while (left > 0) {
      const room = this.cur.length - this.used;
      const n = left < room ? left : room;
      this.cur.set(src.subarray(off, off + n), this.used);
      this.used += n;
      off += n;
      left -= n;
      if (this.used === this.cur.length) {
        this.chunks.push(this.cur);
        this.cur = new Uint8Array(this.chunkBytes);
        this.used = 0;
      }
    }
    this.total += length;
  }

  close(): void {
    this.closed = true;
  }

  /** All bytes written so far, as one array. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.total);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    out.set(this.cur.subarray(0, this.used), o);
    return out;
  }
}

export interface FileSinkOptions {
  /** Bytes buffered before a write(2) (default 1 MiB). */
  readonly chunkBytes?: number;
  /** Append to an existing file instead of truncating it. */
  readonly append?: boolean;
}

/** Writes to a file through one reusable buffer: memory stays at one chunk however long the capture. */
export class FileSink implements ByteSink {
  private fd: number;
  private readonly buf: Uint8Array;
  private used = 0;
  private _bytesWritten = 0;
  private _flushes = 0;

  constructor(
    readonly path: string,
    opts: FileSinkOptions = {},
  ) {
    const chunk = opts.chunkBytes ?? DEFAULT_FILE_CHUNK;
    if (!Number.isInteger(chunk) || chunk < 64)
      throw new IovError("EINVAL", `chunk size ${chunk} must be an integer ≥ 64`, { chunkBytes: chunk });
    this.buf = new Uint8Array(chunk);
    try {
      this.fd = openSync(path, opts.append === true ? "a" : "w");
    } catch (e) {
      throw new IovError("ENOENT", `cannot open ${path} for writing: ${(e as Error).message}`, { path });
    }
  }

  /** Bytes handed to the file so far (excluding what is still buffered). */
  get bytesWritten(): number {
    return this._bytesWritten;
  }
  /** Bytes waiting in the buffer. */
  get bufferedBytes(): number {
    return this.used;
  }
  get flushes(): number {
    return this._flushes;
  }
  get bufferCapacity(): number {
    return this.buf.length;
  }

  write(src: Uint8Array, offset: number, length: number): void {
    if (this.fd < 0) throw new IovError("EINVAL", `write to closed FileSink ${this.path}`, { path: this.path });
    if (length >= this.buf.length) {
      this.flush();
      this.writeAll(src, offset, length);
      return;
    }
    if (length > this.buf.length - this.used) this.flush();
    this.buf.set(src.subarray(offset, offset + length), this.used);
    this.used += length;
  }

  /** Hands buffered bytes to the file. */
  flush(): void {
    if (this.used === 0) return;
    this.writeAll(this.buf, 0, this.used);
    this.used = 0;
  }

  close(): void {
    if (this.fd < 0) return;
    this.flush();
    closeSync(this.fd);
    this.fd = -1;
  }

  private writeAll(src: Uint8Array, offset: number, length: number): void {
    let off = offset;
    let left = length;
    while (left > 0) {
      const n = writeSync(this.fd, src, off, left);
      off += n;
      left -= n;
    }
    this._bytesWritten += length;
    this._flushes++;
  }
}
