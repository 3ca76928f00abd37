// A build's log, whole and in order, from live pieces and whatever had to be fetched.
import { fetchLog } from "./api.js";

const utf8 = new TextEncoder();

export class LogTail {
  /** `show(text)` gets each new stretch of the log, in order, exactly once; `failed(error)`
   *  hears of a fetch that failed (the next piece tries again). */
  constructor(buildId, show, failed) {
    this.buildId = buildId;
    this.show = show;
    this.failed = failed;
    this.held = 0; // bytes of the log shown so far; pieces carry byte offsets
    this.waiting = [];
    this.fetching = null;
  }

  /** A `buildLog` event's piece: shown if it is next, fetched around if pieces were missed. */
  piece({ offset, data }) {
    if (this.fetching) this.waiting.push({ offset, data });
    else if (offset === this.held) this.take(data);
    else if (offset > this.held) this.catchUp();
    // A piece before `held` was in a fetched stretch already.
  }

  take(data) {
    this.held += utf8.encode(data).length;
    this.show(data);
  }

  /** Fetch everything after what is shown; one fetch at a time. */
  catchUp() {
    if (!this.fetching) {
      this.fetching = this.fetchMissing().catch(this.failed).finally(() => {
        this.fetching = null;
        const waiting = this.waiting;
        this.waiting = [];
        waiting.forEach((piece) => this.piece(piece));
      });
    }
    return this.fetching;
  }

  async fetchMissing() {
    const { text, next } = await fetchLog(this.buildId, this.held);
    if (next > this.held) {
      this.held = next;
      this.show(text);
    }
  }
}
