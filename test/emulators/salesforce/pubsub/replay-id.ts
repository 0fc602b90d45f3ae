// Replay ids are opaque bytes in the proto, but the pozil client reads and writes them as
// 8-byte big-endian unsigned integers (eventParser.js), so the emulator issues exactly that.
export const REPLAY_ID_BYTES = 8;

export function encodeReplayId(value: bigint): Buffer {
  const buf = Buffer.allocUnsafe(REPLAY_ID_BYTES);
  buf.writeBigUInt64BE(value);
  return buf;
}

/** Returns null when the bytes cannot be a replay id this emulator issued. */
export function decodeReplayId(bytes: Uint8Array): bigint | null {
  if (bytes.length !== REPLAY_ID_BYTES) return null;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).readBigUInt64BE();
}
