// Number and time formatting, matching what the server renders on first load.

const integerFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const decimalFormats = new Map();

export function formatInteger(value) {
  return integerFormat.format(value);
}

export function formatDecimal(value, digits) {
  if (!decimalFormats.has(digits)) {
    decimalFormats.set(
      digits,
      new Intl.NumberFormat("en-US", {
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      }),
    );
  }
  return decimalFormats.get(digits).format(value);
}

// "2025-01-31T12:00:00.123Z" becomes "2025-01-31 12:00:00 UTC".
export function formatCreated(isoTime) {
  return `${isoTime.slice(0, 19).replace("T", " ")} UTC`;
}

export function formatDuration(milliseconds) {
  if (milliseconds < 1000) {
    return `${Math.round(milliseconds)} ms`;
  }
  return `${formatDecimal(milliseconds / 1000, 1)} s`;
}
