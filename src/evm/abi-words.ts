// 32-byte ABI words as hex (no 0x), for the calldata laid out by hand on the verify hot path.
export const hexWord = (hex: string): string => hex.padStart(64, "0");
export const uintWord = (value: bigint | number | string): string => hexWord(BigInt(value).toString(16));

/** The same word written into `buf` at `at` (zero-filled on the left). */
export function writeWord(buf: Buffer, at: number, hex: string): void {
  buf.fill(0, at, at + 32);
  buf.write(hex.length % 2 ? `0${hex}` : hex, at + 32 - Math.ceil(hex.length / 2), "hex");
}
