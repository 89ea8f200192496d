// Histogram of an array's values on a canvas. Values are counted into a
// typed array in one pass, so a million values bin in a few milliseconds and
// drawing costs one rectangle per bin, never anything per value.

import { formatInteger } from "./format.js";

const MAX_BINS = 160;
const MIN_BINS = 8;
const PIXELS_PER_BIN = 5;
const PLOT = { top: 24, right: 10, bottom: 6, left: 10 };

// Every bin covers the same whole number of integers (the last one may
// cover fewer, and is scaled up), so a uniform array draws flat rather than
// striped by rounding.
export function planBins(rangeStart, rangeEnd, cssWidth) {
  const span = rangeEnd - rangeStart + 1;
  const wanted = Math.max(
    MIN_BINS,
    Math.min(MAX_BINS, Math.floor(cssWidth / PIXELS_PER_BIN)),
  );
  const binWidth = Math.max(1, Math.ceil(span / wanted));
  const bins = Math.ceil(span / binWidth);
  const lastCoverage = span - (bins - 1) * binWidth;
  return { rangeStart, span, binWidth, bins, lastCoverage };
}

export function binValues(values, plan) {
  const counts = new Uint32Array(plan.bins);
  const last = plan.bins - 1;
  const { rangeStart, binWidth } = plan;
  for (let index = 0, length = values.length; index < length; index += 1) {
    let bin = Math.floor((values[index] - rangeStart) / binWidth);
    if (bin > last) {
      bin = last;
    } else if (bin < 0) {
      bin = 0;
    }
    counts[bin] += 1;
  }
  return counts;
}

function palette(canvas) {
  const style = getComputedStyle(canvas);
  const read = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
  return {
    background: read("--screen-bg", "#101418"),
    grid: read("--screen-grid", "rgba(255,255,255,0.08)"),
    bar: read("--screen-bar", "#f2a93b"),
    mean: read("--screen-mean", "#5fd4c4"),
    band: read("--screen-band", "rgba(95,212,196,0.14)"),
    expected: read("--screen-expected", "rgba(255,255,255,0.45)"),
    text: read("--screen-text", "#b8c1cb"),
    font: read("--font-mono", "monospace"),
  };
}

// Size the backing store to the element's box and the screen's pixel ratio.
function prepare(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(1, canvas.clientWidth);
  const height = Math.max(1, canvas.clientHeight);
  const pixelWidth = Math.round(width * ratio);
  const pixelHeight = Math.round(height * ratio);
  if (canvas.width !== pixelWidth || canvas.height !== pixelHeight) {
    canvas.width = pixelWidth;
    canvas.height = pixelHeight;
  }
  const context = canvas.getContext("2d");
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  return { context, width, height };
}

function drawGrid(context, colors, width, height) {
  context.fillStyle = colors.background;
  context.fillRect(0, 0, width, height);
  context.strokeStyle = colors.grid;
  context.lineWidth = 1;
  const plotHeight = height - PLOT.top - PLOT.bottom;
  for (let line = 0; line <= 4; line += 1) {
    const y = Math.round(PLOT.top + (plotHeight * line) / 4) + 0.5;
    context.beginPath();
    context.moveTo(PLOT.left, y);
    context.lineTo(width - PLOT.right, y);
    context.stroke();
  }
}

export function drawEmpty(canvas) {
  const { context, width, height } = prepare(canvas);
  drawGrid(context, palette(canvas), width, height);
}

// Draw counts from `binValues`; return what a screen reader should hear.
export function drawHistogram(canvas, { counts, plan, size, stats }) {
  const { context, width, height } = prepare(canvas);
  const colors = palette(canvas);
  drawGrid(context, colors, width, height);

  const plotWidth = width - PLOT.left - PLOT.right;
  const plotHeight = height - PLOT.top - PLOT.bottom;
  const bottom = PLOT.top + plotHeight;
  const xOf = (value) =>
    PLOT.left + ((value - plan.rangeStart) / plan.span) * plotWidth;

  // Heights are counts per `binWidth` integers, so the short last bin
  // compares fairly with the others.
  const heights = new Float64Array(plan.bins);
  let tallest = 0;
  let tallestCount = 0;
  for (let bin = 0; bin < plan.bins; bin += 1) {
    const coverage = bin === plan.bins - 1 ? plan.lastCoverage : plan.binWidth;
    heights[bin] = (counts[bin] * plan.binWidth) / coverage;
    tallest = Math.max(tallest, heights[bin]);
    tallestCount = Math.max(tallestCount, counts[bin]);
  }
  const expected = (size * plan.binWidth) / plan.span;
  const top = Math.max(tallest, expected) * 1.08 || 1;
  const yOf = (value) => bottom - (value / top) * plotHeight;

  // The band mean +/- one standard deviation, behind the bars.
  // Integer v spans xOf(v) to xOf(v + 1): centres sit half a unit in.
  const bandLeft = Math.max(PLOT.left, xOf(stats.mean - stats.std + 0.5));
  const bandRight = Math.min(width - PLOT.right, xOf(stats.mean + stats.std + 0.5));
  context.fillStyle = colors.band;
  context.fillRect(bandLeft, PLOT.top, Math.max(0, bandRight - bandLeft), plotHeight);

  const barWidth = (plotWidth * plan.binWidth) / plan.span;
  const gap = barWidth > 4 ? 1 : 0;
  context.fillStyle = colors.bar;
  for (let bin = 0; bin < plan.bins; bin += 1) {
    if (heights[bin] === 0) {
      continue;
    }
    const left = PLOT.left + bin * barWidth;
    const right = Math.min(left + barWidth, width - PLOT.right);
    const y = yOf(heights[bin]);
    context.fillRect(left + gap / 2, y, Math.max(0.5, right - left - gap), bottom - y);
  }

  // What a perfectly uniform draw would give per bin.
  context.strokeStyle = colors.expected;
  context.setLineDash([4, 4]);
  context.beginPath();
  context.moveTo(PLOT.left, Math.round(yOf(expected)) + 0.5);
  context.lineTo(width - PLOT.right, Math.round(yOf(expected)) + 0.5);
  context.stroke();
  context.setLineDash([]);

  const meanX = Math.round(xOf(stats.mean + 0.5)) + 0.5;
  context.strokeStyle = colors.mean;
  context.lineWidth = 2;
  context.beginPath();
  context.moveTo(meanX, PLOT.top - 4);
  context.lineTo(meanX, bottom);
  context.stroke();

  context.fillStyle = colors.text;
  context.font = `11px ${colors.font}`;
  context.textBaseline = "top";
  context.textAlign = "left";
  context.fillText(`peak ${formatInteger(tallestCount)} per bin`, PLOT.left, 6);
  context.textAlign = "right";
  const binLabel =
    plan.binWidth === 1 ? "1 value" : `${formatInteger(plan.binWidth)} values`;
  context.fillText(
    `${formatInteger(plan.bins)} bins × ${binLabel}`,
    width - PLOT.right,
    6,
  );

  return (
    `Histogram of ${formatInteger(size)} values from ${formatInteger(plan.rangeStart)} ` +
    `to ${formatInteger(plan.rangeStart + plan.span - 1)} in ${formatInteger(plan.bins)} ` +
    `bins; the fullest bin holds ${formatInteger(tallestCount)} values, a uniform ` +
    `draw would put about ${formatInteger(Math.round(expected))} in each.`
  );
}
