// The WebSocket link to one stream: joins it, keeps it alive with pings,
// reconnects with growing delays when it drops, and asks the server with
// `resume` for every array it missed meanwhile, so none is skipped.

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10000;
const PING_EVERY_MS = 20000;
// No frame at all for this long (pongs included) means the link is dead
// even if the socket has not noticed yet.
const SILENCE_LIMIT_MS = 45000;
const CLOSE_SILENT = 4000;

export class StreamConnection {
  constructor({ url, lastSeq, onArray, onState, onError }) {
    this.url = url;
    // The highest seq received in order; `resume` starts after it.
    this.lastSeq = lastSeq;
    this.onArray = onArray;
    this.onState = onState;
    this.onError = onError;
    this.socket = null;
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.lastFrameAt = 0;
    this.resumePending = false;
    this.resumeTarget = 0;
    this.everConnected = false;
    window.addEventListener("online", () => this.retryNow());
  }

  start() {
    this.open();
  }

  open() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.onState(this.everConnected ? "reconnecting" : "connecting", {});
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (error) {
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    socket.addEventListener("message", (event) => this.receive(socket, event));
    socket.addEventListener("close", (event) => this.closed(socket, event));
  }

  send(frame) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(frame));
    }
  }

  receive(socket, event) {
    if (socket !== this.socket || typeof event.data !== "string") {
      return;
    }
    this.lastFrameAt = Date.now();
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    switch (frame.type) {
      case "welcome":
        this.welcome(frame);
        break;
      case "new_array":
        this.arrived(frame, event.data);
        break;
      case "error":
        this.failed(frame);
        break;
      default:
        // `pong` only proves the link is alive, which lastFrameAt records.
        break;
    }
  }

  welcome(frame) {
    this.attempt = 0;
    this.everConnected = true;
    this.startPinging();
    if (frame.latest_seq > this.lastSeq) {
      this.resumePending = true;
      this.resumeTarget = frame.latest_seq;
      this.send({ type: "resume", after_seq: this.lastSeq });
    }
    // A smaller latest_seq means this server process has not relayed the
    // newest arrays yet; they come later and are told apart by seq.
    this.onState("live", {});
  }

  arrived(frame, text) {
    if (frame.seq <= this.lastSeq) {
      // Already shown: a replayed array that also came live.
      return;
    }
    this.lastSeq = frame.seq;
    if (this.resumePending && frame.seq >= this.resumeTarget) {
      this.resumePending = false;
    }
    this.onArray(frame, text);
  }

  failed(frame) {
    const afterResume = this.resumePending && frame.request_id == null;
    this.resumePending = false;
    this.onError(frame, { afterResume });
  }

  startPinging() {
    clearInterval(this.pingTimer);
    this.lastFrameAt = Date.now();
    this.pingTimer = setInterval(() => {
      if (Date.now() - this.lastFrameAt > SILENCE_LIMIT_MS) {
        this.socket.close(CLOSE_SILENT, "no frame from the server");
        return;
      }
      this.send({ type: "ping" });
    }, PING_EVERY_MS);
  }

  closed(socket, event) {
    if (socket !== this.socket) {
      return;
    }
    clearInterval(this.pingTimer);
    this.socket = null;
    this.resumePending = false;
    this.scheduleRetry(event.code);
  }

  scheduleRetry(code) {
    const growth = FIRST_DELAY_MS * 2 ** this.attempt;
    // Jitter spreads the reconnections of many pages after a restart.
    const delay = Math.min(MAX_DELAY_MS, growth) * (0.8 + Math.random() * 0.4);
    this.attempt += 1;
    this.onState("reconnecting", { delay, code, attempt: this.attempt });
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  retryNow() {
    if (this.retryTimer !== null) {
      this.open();
    }
  }
}
