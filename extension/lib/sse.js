// Server-sent events read from a fetch() response.
//
// EventSource cannot send an Authorization header, so the stream is fetched
// like any other call and parsed here, following the WHATWG framing: lines
// end with CRLF, LF or CR; "event:" names the event, "data:" lines are joined
// with "\n"; a blank line dispatches; lines starting with ":" are comments.

/**
 * Yield `{event, data}` for every event of `stream` (a ReadableStream of bytes)
 * until it ends. `data` is the raw text; the caller parses it.
 */
export async function* readEvents(stream) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new EventParser();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      yield* parser.push(value);
    }
    yield* parser.end();
  } finally {
    reader.releaseLock();
  }
}

/** The framing alone, fed text in pieces of any size (exported for tests). */
export class EventParser {
  constructor() {
    this.buffer = "";
    this.event = "";
    this.data = [];
  }

  *push(text) {
    this.buffer += text;
    for (;;) {
      const end = this.buffer.search(/[\r\n]/);
      if (end < 0) return;
      // A CR at the very end may be the first half of a CRLF split across chunks.
      if (this.buffer[end] === "\r" && end === this.buffer.length - 1) return;
      const line = this.buffer.slice(0, end);
      const width = this.buffer.startsWith("\r\n", end) ? 2 : 1;
      this.buffer = this.buffer.slice(end + width);
      const dispatched = this.line(line);
      if (dispatched) yield dispatched;
    }
  }

  *end() {
    // A stream that ends without a final blank line does not dispatch its last
    // event (as EventSource does), but a lone trailing CR is a line end.
    if (this.buffer.endsWith("\r")) {
      const dispatched = this.line(this.buffer.slice(0, -1));
      this.buffer = "";
      if (dispatched) yield dispatched;
    }
  }

  line(line) {
    if (line === "") {
      const event = { event: this.event || "message", data: this.data.join("\n") };
      const had = this.data.length > 0;
      this.event = "";
      this.data = [];
      return had ? event : null;
    }
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.event = value;
    else if (field === "data") this.data.push(value);
    // "id" and "retry" are not used: a lost stream is followed up by polling.
    return null;
  }
}
