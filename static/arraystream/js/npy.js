// Read a NumPy .npy file (one-dimensional, little-endian signed integers)
// into a typed array, without a JavaScript object per value.

const MAGIC = "\x93NUMPY";

const DTYPES = {
  "|i1": Int8Array,
  "<i1": Int8Array,
  "<i2": Int16Array,
  "<i4": Int32Array,
  "<i8": BigInt64Array,
};

export function parseNpy(buffer) {
  const bytes = new Uint8Array(buffer);
  const magic = String.fromCharCode(...bytes.subarray(0, 6));
  if (magic !== MAGIC) {
    throw new Error("the file is not a NumPy .npy file");
  }
  const view = new DataView(buffer);
  const major = bytes[6];
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  const header = new TextDecoder("latin1").decode(
    bytes.subarray(headerStart, headerStart + headerLength),
  );

  const descr = /'descr':\s*'([^']+)'/.exec(header);
  const shape = /'shape':\s*\((\d+),?\)/.exec(header);
  const Type = descr && DTYPES[descr[1]];
  if (!Type || !shape || /'fortran_order':\s*True/.test(header)) {
    throw new Error(`unsupported .npy layout: ${header.trim()}`);
  }

  const length = Number(shape[1]);
  const dataStart = headerStart + headerLength;
  // The format pads its header to a multiple of 64 bytes, so the data is
  // aligned for a typed-array view; copy only if a server did otherwise.
  const aligned = dataStart % Type.BYTES_PER_ELEMENT === 0;
  const source = aligned ? buffer : buffer.slice(dataStart);
  const values = new Type(source, aligned ? dataStart : 0, length);
  if (Type !== BigInt64Array) {
    return values;
  }
  // Every value is within +/- (2**53 - 1), so a double holds it exactly.
  const numbers = new Float64Array(length);
  for (let index = 0; index < length; index += 1) {
    numbers[index] = Number(values[index]);
  }
  return numbers;
}
