// Geometry of a history entry's thumbnail: the stored preview as a
// sparkline over the band mean +/- std, scaled to the requested range. The
// server computes the same for the entries it renders (generator/pages.py).

const round2 = (value) => Math.round(value * 100) / 100;

export function thumbnailGeometry(record, { width, height, pad }) {
  const low = record.range_start;
  const high = record.range_end;
  const inner = height - 2 * pad;
  const scale = (value) => {
    let share = high === low ? 0.5 : (value - low) / (high - low);
    share = Math.min(Math.max(share, 0), 1);
    return round2(height - pad - share * inner);
  };
  const preview = record.preview;
  const step = (width - 2 * pad) / Math.max(preview.length - 1, 1);
  const points = preview
    .map((value, index) => `${round2(pad + index * step)},${scale(value)}`)
    .join(" ");
  const bandTop = scale(record.stats.mean + record.stats.std);
  const bandBottom = scale(record.stats.mean - record.stats.std);
  return {
    points,
    meanY: scale(record.stats.mean),
    bandY: bandTop,
    bandHeight: round2(bandBottom - bandTop),
  };
}
