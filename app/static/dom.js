// Building the page from data. Text always goes in as text: nothing from the server becomes markup.
import { AppBuildStatus, Event, Status } from "./words.js";

/** An element with attributes, `on<event>` listeners and children (strings become text nodes). */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "value" || key === "checked") element[key] = value;
    else element.setAttribute(key, value === true ? "" : value);
  }
  element.append(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return element;
}

// Every status a badge shows: a build's or a step's, and an app build's.
export const STATUSES = [...new Set([...Status.ALL, ...AppBuildStatus.ALL])];
export const FINISHED = Status.FINISHED;

/** How far along a status is: an event that would move a build backwards is stale. */
export function progress(status) {
  return FINISHED.includes(status) ? 2 : status === Status.RUNNING ? 1 : 0;
}

export function statusBadge(status) {
  const known = STATUSES.includes(status) ? status : "unknown";
  return h("span", { class: `status status-${known}`, "data-status": known }, status);
}

export function shortHash(hash) {
  return (hash || "").slice(0, 7);
}

export function firstLine(text) {
  return (text || "").split("\n", 1)[0];
}

const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
const UNITS = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];

export function relativeTime(iso, now = Date.now()) {
  const seconds = (Date.parse(iso) - now) / 1000;
  if (Math.abs(seconds) < 10) return "just now";
  const [unit, size] = UNITS.find(([, size]) => Math.abs(seconds) >= size);
  return relative.format(Math.round(seconds / size), unit);
}

/** A <time> that says how long ago `iso` was, and keeps saying it (see refreshTimes). */
export function timeAgo(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  return h("time", { datetime: iso, title: new Date(iso).toLocaleString(), "data-relative": "" },
           relativeTime(iso));
}

export function refreshTimes(root = document) {
  for (const element of root.querySelectorAll("time[data-relative]")) {
    element.textContent = relativeTime(element.getAttribute("datetime"));
  }
}

export function formatDuration(milliseconds) {
  if (milliseconds === null || Number.isNaN(milliseconds)) return "—";
  const seconds = milliseconds / 1000;
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** How long a build has run: until it finished, or until now while it runs. */
export function buildDuration(build, now = Date.now()) {
  if (!build.runStartedAt) return null;
  const end = build.finishedAt ? Date.parse(build.finishedAt) : now;
  return end - Date.parse(build.runStartedAt);
}

/** What started a build, in a few words: `PR #2 Title`, `tag v1.2.0`, `manual by alice`, or its branch. */
export function eventLabel(build) {
  const pull = build.pullRequest;
  if (pull) return `PR #${pull.number}${pull.title ? ` ${pull.title}` : ""}${pull.fork ? ` (from ${pull.headRepo || "a deleted fork"})` : ""}`;
  if (build.event === Event.TAG) return `tag ${(build.ref || "").replace("refs/tags/", "")}`;
  if (build.event === Event.MANUAL) return build.triggeredBy ? `manual by ${build.triggeredBy}` : "manual";
  if (build.event === Event.CRON) return build.schedule ? `cron ${build.schedule}` : "cron";
  return build.branch;
}

/** The one line that sums a build up in lists: status, commit, who, where and when. */
export function buildSummary(build) {
  return h("div", { class: "summary", "data-build-id": build.id },
    statusBadge(build.status),
    h("a", { class: "commit", href: `/builds/${build.id}` },
      firstLine(build.commit) || `Build #${build.id}`),
    h("span", { class: "meta" },
      h("span", { class: "branch" }, eventLabel(build)),
      h("code", { class: "hash", title: build.commitHash }, shortHash(build.commitHash)),
      build.commitAuthor ? h("span", { class: "author" }, build.commitAuthor) : null,
      timeAgo(build.startedAt)));
}

export function errorText(element, error) {
  element.textContent = error ? error.message : "";
  element.hidden = !error;
}

/** A labelled form field, with a hint under it if given. */
export function field(id, label, input, hint) {
  return h("div", { class: "field" },
    h("label", { for: id }, label), input, hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null);
}

/** A checkbox with its label after it. */
export function check(id, label, input) {
  return h("div", { class: "field inline" }, input, h("label", { for: id }, label));
}

/** Run a form's `work`, its submit button disabled meanwhile and any failure shown in `problem`. */
export async function submitting(event, problem, work) {
  event.preventDefault();
  errorText(problem, null);
  event.submitter.disabled = true;
  try {
    await work();
  } catch (failure) {
    errorText(problem, failure);
  }
  event.submitter.disabled = false;
}

/** A paragraph for a form's errors, read out when it changes. */
export function problemText() {
  return h("p", { class: "error", role: "alert", hidden: true });
}
