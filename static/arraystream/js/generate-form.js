// The generate form: posts to `POST /api/generate` and shows the server's
// per-field errors beside their fields. The server decides what is valid, so
// the page says what the API would say to any client. The page itself only
// stops what it cannot send: a number box left empty (the form shows every
// field filled, so an empty one is a slip, not a wish for the default) or
// holding text the browser will not hand to scripts.

import { formatDuration } from "./format.js";

const NUMBER_FIELDS = ["size", "range_start", "range_end"];
const WHOLE_NUMBER = /^-?\d{1,20}$/;

// Numbers go into the body as the digits typed: a seed can exceed what a
// JavaScript number holds exactly. Anything else goes as text, so that the
// server's message quotes what was received.
function jsonValue(text) {
  if (WHOLE_NUMBER.test(text)) {
    return text.replace(/^(-?)0+(?=\d)/, "$1");
  }
  return JSON.stringify(text);
}

export class GenerateForm {
  constructor(form, { url, stream, onCreated }) {
    this.form = form;
    this.url = url;
    this.stream = stream;
    this.onCreated = onCreated;
    this.button = form.querySelector("button[type=submit]");
    this.status = document.getElementById("form-status");
    // The page shows the server's messages; without this script the
    // browser's own checks apply instead.
    form.noValidate = true;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    form.addEventListener("input", (event) => {
      if (event.target.name) {
        this.clearError(event.target.name);
      }
    });
  }

  input(name) {
    return this.form.elements.namedItem(name);
  }

  clearError(name) {
    const message = this.form.querySelector(`[data-error-for="${name}"]`);
    if (message) {
      message.hidden = true;
      message.textContent = "";
    }
    const input = this.input(name);
    if (input && input.removeAttribute) {
      input.removeAttribute("aria-invalid");
    }
  }

  clearErrors() {
    for (const message of this.form.querySelectorAll("[data-error-for]")) {
      this.clearError(message.dataset.errorFor);
    }
  }

  showErrors(errors) {
    let first = null;
    for (const [name, messages] of Object.entries(errors)) {
      const text = [].concat(messages).join(" ");
      const field = this.form.querySelector(`[data-error-for="${name}"]`);
      const input = this.input(name);
      if (field && input) {
        field.textContent = text;
        field.hidden = false;
        input.setAttribute("aria-invalid", "true");
        first = first || input;
      } else {
        this.showFormError(text);
      }
    }
    if (first) {
      first.focus();
    }
  }

  showFormError(text) {
    const message = this.form.querySelector('[data-error-for="form"]');
    message.textContent = message.hidden ? text : `${message.textContent} ${text}`;
    message.hidden = false;
  }

  // Return the request body, or null after showing what must be fixed.
  body() {
    const parts = [];
    const problems = {};
    for (const name of NUMBER_FIELDS) {
      const input = this.input(name);
      const text = input.value.trim();
      if (input.validity.badInput) {
        problems[name] = [
          `${name} must be a whole number; the field holds text that is not a number.`,
        ];
      } else if (text === "") {
        problems[name] = [
          `${name} is required: enter a whole number from ${input.min} to ${input.max}.`,
        ];
      } else {
        parts.push(`"${name}":${jsonValue(text)}`);
      }
    }
    if (Object.keys(problems).length) {
      this.showErrors(problems);
      return null;
    }
    const seed = this.input("seed").value.trim();
    if (seed !== "") {
      parts.push(`"seed":${jsonValue(seed)}`);
    }
    parts.push(`"stream":${JSON.stringify(this.stream)}`);
    return `{${parts.join(",")}}`;
  }

  async submit() {
    this.clearErrors();
    const body = this.body();
    if (body === null) {
      return;
    }
    this.busy(true, "Generating…");
    const started = performance.now();
    let statusText = "";
    try {
      const response = await fetch(this.url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body,
        credentials: "same-origin",
      });
      const text = await response.text();
      if (response.status === 201) {
        const record = JSON.parse(text);
        statusText = `Stored #${record.seq} in ${formatDuration(performance.now() - started)}`;
        this.onCreated(record, text);
      } else {
        this.failed(response, text);
      }
    } catch (error) {
      this.showFormError(
        `The server could not be reached (${error.message}). Check the connection and try again.`,
      );
    } finally {
      this.busy(false, statusText);
    }
  }

  failed(response, text) {
    let reply = null;
    try {
      reply = JSON.parse(text);
    } catch (error) {
      reply = null;
    }
    if (
      response.status === 400 &&
      reply &&
      typeof reply === "object" &&
      !reply.detail
    ) {
      this.showErrors(reply);
    } else if (reply && reply.detail) {
      this.showFormError(reply.detail);
    } else {
      this.showFormError(
        `The server answered ${response.status} ${response.statusText}. Try again in a moment.`,
      );
    }
  }

  busy(isBusy, text) {
    this.button.disabled = isBusy;
    this.form.setAttribute("aria-busy", String(isBusy));
    this.status.textContent = text;
  }
}
