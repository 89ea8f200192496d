// The live page: wires the generate form, the stream connection, the latest
// array's histogram and readouts, and the recent history list. The page is
// complete without this script; the script keeps it up to date.

import { StreamConnection } from "./connection.js";
import { formatCreated, formatDecimal, formatInteger } from "./format.js";
import { GenerateForm } from "./generate-form.js";
import { binValues, drawEmpty, drawHistogram, planBins } from "./histogram.js";
import { parseNpy } from "./npy.js";
import { thumbnailGeometry } from "./thumbnail.js";

const config = JSON.parse(document.getElementById("arraystream-config").textContent);

function arrayUrl(arrayId, format) {
  const path = config.array_url.replace(config.id_placeholder, arrayId);
  return format ? `${path}?format=${format}` : path;
}

// Seeds reach 2**64 - 1, beyond the integers a JavaScript number holds
// exactly: read the digits from the JSON text itself. The record's fields
// come before its values, so only the head of the text is searched.
function exactSeed(text, record) {
  const match = /"seed":(\d+)/.exec(text.slice(0, 4096));
  return match ? match[1] : String(record.seed);
}

async function fetchValues(record, signal) {
  const source = record.array_url || arrayUrl(record.id);
  const url = new URL(source, window.location.href);
  url.searchParams.set("format", "npy");
  const response = await fetch(url, {
    signal,
    headers: { Accept: "application/octet-stream" },
  });
  if (!response.ok) {
    throw new Error(`the server answered ${response.status} for ${url.pathname}`);
  }
  return parseNpy(await response.arrayBuffer());
}

class LatestPanel {
  constructor(root) {
    this.root = root;
    this.canvas = root.querySelector("#histogram");
    this.message = root.querySelector("#screen-message");
    this.record = null;
    this.values = null;
    this.loading = null;
    this.drawPending = false;
    new ResizeObserver(() => this.scheduleDraw()).observe(this.canvas);
  }

  readout(name) {
    return this.root.querySelector(`[data-readout="${name}"]`);
  }

  // Show `record` if it is newer than the one shown; fetch its values when
  // the record came without them.
  show(record, values) {
    if (this.record && record.seq <= this.record.seq) {
      return;
    }
    this.record = record;
    this.values = values || null;
    this.fillReadouts(record);
    if (this.loading) {
      this.loading.abort();
      this.loading = null;
    }
    if (this.values) {
      this.message.hidden = true;
      this.scheduleDraw();
    } else {
      this.load(record);
    }
  }

  async load(record) {
    const controller = new AbortController();
    this.loading = controller;
    this.setMessage(`Loading ${formatInteger(record.size)} values…`);
    drawEmpty(this.canvas);
    try {
      const values = await fetchValues(record, controller.signal);
      if (this.record === record) {
        this.values = values;
        this.message.hidden = true;
        this.scheduleDraw();
      }
    } catch (error) {
      if (error.name !== "AbortError") {
        this.setMessage(
          `The values could not be loaded: ${error.message}. Reload to try again.`,
        );
      }
    } finally {
      if (this.loading === controller) {
        this.loading = null;
      }
    }
  }

  setMessage(text) {
    this.message.textContent = text;
    this.message.hidden = false;
  }

  fillReadouts(record) {
    const set = (name, text) => {
      this.readout(name).textContent = text;
    };
    set("seq", String(record.seq));
    set("size", formatInteger(record.size));
    set(
      "range",
      `${formatInteger(record.range_start)} … ${formatInteger(record.range_end)}`,
    );
    set("axis_start", formatInteger(record.range_start));
    set("axis_end", formatInteger(record.range_end));
    set("min", formatInteger(record.stats.min));
    set("max", formatInteger(record.stats.max));
    set("mean", formatDecimal(record.stats.mean, 2));
    set("std", formatDecimal(record.stats.std, 2));
    set("seed", record.seedText);
    set("dtype", record.dtype);
    set("source", record.source);
    const time = document.createElement("time");
    time.dateTime = record.created_at;
    time.textContent = formatCreated(record.created_at);
    this.readout("created").replaceChildren(time);
    this.readout("preview").replaceChildren(
      ...record.preview.map((value) => {
        const item = document.createElement("li");
        item.textContent = String(value);
        return item;
      }),
    );
    const downloads = this.readout("downloads");
    for (const link of downloads.querySelectorAll("[data-link]")) {
      const format = link.dataset.link;
      link.href = arrayUrl(record.id, format === "detail" ? null : format);
    }
    downloads.hidden = false;
    this.canvas.setAttribute(
      "aria-label",
      `Histogram of array #${record.seq}: loading`,
    );
  }

  // Drawing waits for the next frame, so a burst of arrivals (a replay
  // after reconnecting) draws once, with the newest.
  scheduleDraw() {
    if (this.drawPending) {
      return;
    }
    this.drawPending = true;
    requestAnimationFrame(() => {
      this.drawPending = false;
      this.draw();
    });
  }

  draw() {
    const { record, values } = this;
    if (!record || !values) {
      return;
    }
    const started = performance.now();
    const plan = planBins(
      record.range_start,
      record.range_end,
      this.canvas.clientWidth,
    );
    const counts = binValues(values, plan);
    const label = drawHistogram(this.canvas, {
      counts,
      plan,
      size: values.length,
      stats: record.stats,
    });
    this.canvas.setAttribute("aria-label", `Array #${record.seq}. ${label}`);
    this.canvas.dataset.seq = String(record.seq);
    this.canvas.dataset.drawMs = (performance.now() - started).toFixed(1);
  }
}

class RecentList {
  constructor(list, template, emptyNote, limit) {
    this.list = list;
    this.template = template;
    this.emptyNote = emptyNote;
    this.limit = limit;
  }

  has(seq) {
    return this.list.querySelector(`:scope > [data-seq="${seq}"]`) !== null;
  }

  entry(record) {
    const item = this.template.content.firstElementChild.cloneNode(true);
    const slot = (name) => item.querySelectorAll(`[data-slot="${name}"]`);
    const fill = (name, text) => {
      for (const element of slot(name)) {
        element.textContent = text;
      }
    };
    item.dataset.seq = record.seq;
    item.dataset.id = record.id;
    fill("seq", String(record.seq));
    fill("size", formatInteger(record.size));
    fill("range_start", formatInteger(record.range_start));
    fill("range_end", formatInteger(record.range_end));
    fill("mean", formatDecimal(record.stats.mean, 1));
    fill("std", formatDecimal(record.stats.std, 1));
    const created = slot("created")[0];
    created.textContent = record.created_at.slice(11, 19);
    created.dateTime = record.created_at;
    created.title = formatCreated(record.created_at);
    slot("detail")[0].href = arrayUrl(record.id);
    for (const format of ["json", "csv", "npy"]) {
      slot(format)[0].href = arrayUrl(record.id, format);
    }
    const shape = thumbnailGeometry(record, config.thumbnail);
    const band = slot("thumb-band")[0];
    band.setAttribute("y", shape.bandY);
    band.setAttribute("height", shape.bandHeight);
    const mean = slot("thumb-mean")[0];
    mean.setAttribute("y1", shape.meanY);
    mean.setAttribute("y2", shape.meanY);
    slot("thumb-line")[0].setAttribute("points", shape.points);
    return item;
  }

  // Insert in seq order, newest first, and keep only the newest `limit`.
  add(record, { highlight = true } = {}) {
    if (this.has(record.seq)) {
      return;
    }
    const item = this.entry(record);
    if (highlight) {
      item.classList.add("entry-new");
    }
    const older = [...this.list.children].find(
      (child) => Number(child.dataset.seq) < record.seq,
    );
    this.list.insertBefore(item, older || null);
    while (this.list.children.length > this.limit) {
      this.list.lastElementChild.remove();
    }
    this.emptyNote.hidden = true;
  }
}

const NOTICE_MS = 30000;
const FELL_BEHIND = "Reconnected after missing more arrays than the server replays";

const STATE_TEXT = {
  connecting: () => "Connecting…",
  live: () => "Live",
  reconnecting: (detail) =>
    detail.attempt ? `Reconnecting (attempt ${detail.attempt})…` : "Reconnecting…",
};

function start() {
  const latest = new LatestPanel(document.getElementById("latest"));
  const recent = new RecentList(
    document.getElementById("recent-list"),
    document.getElementById("entry-template"),
    document.getElementById("recent-empty"),
    config.recent_length,
  );
  const indicator = document.getElementById("connection");
  const indicatorText = indicator.querySelector(".connection-text");
  const notice = document.getElementById("stream-notice");
  let noticeTimer = null;
  const showNotice = (text) => {
    notice.textContent = text;
    notice.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => {
      notice.hidden = true;
    }, NOTICE_MS);
  };

  const arrived = (record, text, values) => {
    record.seedText = exactSeed(text, record);
    recent.add(record);
    latest.show(record, values);
  };

  if (config.latest) {
    latest.show({ ...config.latest, seedText: config.latest.seed }, null);
  } else {
    drawEmpty(latest.canvas);
  }

  new GenerateForm(document.getElementById("generate-form"), {
    url: config.generate_url,
    stream: config.stream,
    onCreated: (record, text) => arrived(record, text, record.array),
  });

  // After falling further behind than the server replays, start again from
  // the stored history, as the server's message asks.
  async function reloadHistory(connection) {
    const url = new URL(config.history_url, window.location.href);
    url.searchParams.set("stream", config.stream);
    url.searchParams.set("limit", String(config.recent_length));
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) {
      throw new Error(`the history API answered ${response.status}`);
    }
    const text = await response.text();
    const page = JSON.parse(text);
    // One seed per record, in the order of the results.
    const seeds = [...text.matchAll(/"seed":(\d+)/g)].map((match) => match[1]);
    const records = page.results.map((record, index) => ({
      ...record,
      seedText:
        seeds.length === page.results.length ? seeds[index] : String(record.seed),
    }));
    // Merged, not replaced: arrays that arrived live meanwhile stay.
    for (const record of records) {
      recent.add(record, { highlight: false });
    }
    if (records.length) {
      connection.lastSeq = Math.max(connection.lastSeq, records[0].seq);
      latest.show(records[0], null);
    }
  }

  const connection = new StreamConnection({
    url: websocketUrl(),
    lastSeq: config.latest_seq,
    onState: (state, detail) => {
      indicator.dataset.state = state;
      indicatorText.textContent = STATE_TEXT[state](detail);
    },
    onArray: (frame, text) => arrived(frame, text, frame.array || null),
    onError: (frame, { afterResume }) => {
      // The server cannot replay that far back; any other failure of a
      // resume leaves the same gap. Either way the stored history fills it.
      if (frame.code === "resume_too_far" || afterResume) {
        showNotice(`${FELL_BEHIND}; reloading the stored history…`);
        reloadHistory(connection).then(
          () =>
            showNotice(
              `${FELL_BEHIND}; the list below was reloaded from the stored history.`,
            ),
          (error) =>
            showNotice(
              `Reloading the stored history failed (${error.message}); reload the page.`,
            ),
        );
        return;
      }
      showNotice(
        frame.detail ||
          Object.values(frame.errors || {})
            .flat()
            .join(" "),
      );
    },
  });
  connection.start();
}

function websocketUrl() {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  const path = config.websocket_path.replace(
    "{stream}",
    encodeURIComponent(config.stream),
  );
  return `${scheme}//${window.location.host}${path}`;
}

start();
