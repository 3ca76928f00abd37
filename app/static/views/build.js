// One build: its status, timings and steps, its log as it is written; rebuild, cancel, approve, decline, delete.
import { api, downloadLog, fetchLog } from "../api.js";
import {
  FINISHED, buildDuration, errorText, eventLabel, firstLine, formatDuration, h, progress, shortHash, statusBadge,
  timeAgo,
} from "../dom.js";
import { LogTail } from "../logtail.js";
import { Role, Status } from "../words.js";

async function loadAnsiUp() {
  try {
    const { AnsiUp } = await import("/vendor/ansi_up.js");
    const converter = new AnsiUp();
    converter.use_classes = true;
    return (text) => converter.ansi_to_html(text);
  } catch {
    // Without the library the log still shows, as plain text with its escape codes.
    return null;
  }
}

export async function showBuild(main, app, buildId) {
  let build;
  const [toHtml, answer] = await Promise.all([loadAnsiUp(), api("GET", `/build/${buildId}`).catch((e) => e)]);
  if (answer instanceof Error) {
    main.append(h("h1", { tabindex: "-1" }, `Build #${buildId}`), h("p", { class: "error", role: "alert" }, answer.message));
    return;
  }
  build = answer.build;
  const project = build.project;

  // Read out when it changes, so nobody has to keep looking at the status.
  const header = h("div", { class: "heading", "aria-live": "polite" });
  const facts = h("dl", { class: "facts" });
  const steps = h("div", { class: "steps-table" });
  // What the build left: its test counts and its artifacts, each a signed link to save it.
  const kept = h("section", { class: "kept" });
  const problem = h("p", { class: "error", role: "alert", hidden: true });
  const log = h("pre", { class: "log", tabindex: "0", "aria-label": "Build log" });
  // One step's own output, apart from the steps that ran beside it.
  const stepLog = h("section", { class: "step-log", hidden: true });

  async function showStepLog(name) {
    errorText(problem, null);
    try {
      const { text } = await fetchLog(buildId, 0, name);
      const pre = h("pre", { class: "log", tabindex: "0", "aria-label": `Log of step ${name}` });
      if (toHtml) pre.insertAdjacentHTML("beforeend", toHtml(text)); // ansi_up escapes all markup
      else pre.append(text);
      stepLog.replaceChildren(h("h2", {}, `Log of step ${name}`), pre);
      stepLog.hidden = false;
    } catch (failure) {
      errorText(problem, failure);
    }
  }
  const rebuild = h("button", { type: "button", onclick: () => act(`/build/rebuild/${buildId}`) }, "Rebuild");
  const cancel = h("button", { type: "button", class: "danger", onclick: () => act(`/build/${buildId}/cancel`) }, "Cancel");
  const approve = h("button", { type: "button", onclick: () => act(`/build/${buildId}/approve`) }, "Approve");
  const decline = h("button", { type: "button", class: "danger", onclick: () => act(`/build/${buildId}/decline`) },
                    "Decline");
  const remove = h("button", { type: "button", class: "danger", onclick: removeBuild }, "Delete");

  async function removeBuild() {
    if (!window.confirm(`Delete build #${buildId} and its log for good?`)) return;
    errorText(problem, null);
    try {
      await api("DELETE", `/build/${buildId}`);
      app.navigate(`/projects/${project.id}`);
    } catch (failure) {
      errorText(problem, failure);
    }
  }

  async function act(path) {
    errorText(problem, null);
    try {
      const { build: next } = await api("POST", path);
      if (next.id !== buildId) app.navigate(`/builds/${next.id}`);
      else update(next);
    } catch (failure) {
      errorText(problem, failure);
    }
  }

  function update(next) {
    if (progress(next.status) < progress(build.status)) return;
    const finishing = FINISHED.includes(next.status) && !FINISHED.includes(build.status);
    build = { ...build, ...next };
    draw();
    if (finishing) {
      // The steps' outcomes and any last log pieces missed on the way.
      api("GET", `/build/${buildId}`).then(({ build: whole }) => { build = whole; draw(); }).catch(() => {});
      tail.catchUp();
    }
  }

  function draw() {
    header.replaceChildren(
      h("h1", { tabindex: "-1" }, `Build #${build.id} `, statusBadge(build.status)),
      project.role === Role.READ ? "" :
        h("div", { class: "actions" }, ...(build.status === Status.BLOCKED ? [approve, decline] : []), rebuild,
          FINISHED.includes(build.status) ? null : cancel,
          FINISHED.includes(build.status) && project.role === Role.ADMIN ? remove : null));
    facts.replaceChildren(
      h("dt", {}, "Project"), h("dd", {}, h("a", { href: `/projects/${project.id}` }, project.name)),
      h("dt", {}, "Commit"), h("dd", { class: "commit-message" }, build.commit || "—"),
      h("dt", {}, "Revision"), h("dd", {}, h("code", { title: build.commitHash }, shortHash(build.commitHash)),
                                  " on ", h("span", { class: "branch" }, build.branch)),
      h("dt", {}, "Event"), h("dd", { class: "event" }, eventLabel(build)),
      h("dt", {}, "Author"), h("dd", {}, build.commitAuthor || "—"),
      h("dt", {}, "Queued"), h("dd", {}, timeAgo(build.startedAt)),
      h("dt", {}, "Started"), h("dd", {}, timeAgo(build.runStartedAt)),
      h("dt", {}, "Duration"), h("dd", { class: "duration" }, formatDuration(buildDuration(build))),
      h("dt", {}, "Exit code"), h("dd", { class: "exit-code" }, build.exitCode ?? "—"),
      ...(build.error ? [h("dt", {}, "Error"), h("dd", { class: "build-error" }, build.error)] : []),
      // Why it has not started, as the server saw it when the page asked.
      ...(build.queueReason && [Status.QUEUED, Status.BLOCKED].includes(build.status)
        ? [h("dt", {}, "Waiting"), h("dd", { class: "queue-reason" }, build.queueReason)] : []));
    steps.replaceChildren(build.steps?.length ? stepTable(build.steps, showStepLog) : "", stepLog);
    kept.replaceChildren(...keptBy(build));
    document.title = `#${build.id} ${build.status} · ${firstLine(build.commit) || project.name} · Stoker`;
  }

  const tail = new LogTail(buildId, (text) => {
    const following = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    if (toHtml) log.insertAdjacentHTML("beforeend", toHtml(text)); // ansi_up escapes all markup in the text
    else log.append(text);
    if (following) log.scrollTop = log.scrollHeight;
  }, (failure) => errorText(problem, failure));

  draw();
  const download = h("button", { type: "button", onclick: () => downloadLog(buildId).catch((failure) => errorText(problem, failure)) },
                     "Download log");
  main.append(header, problem, facts, kept, steps, h("div", { class: "log-heading" }, h("h2", {}, "Log"), download), log);
  await tail.catchUp();
  const ticking = setInterval(() => {
    if (build.status === Status.RUNNING) facts.querySelector(".duration").textContent = formatDuration(buildDuration(build));
  }, 1000);

  return {
    onStatus(next) {
      if (next.id === buildId) update(next);
    },
    onLog(piece) {
      if (piece.buildId === buildId) tail.piece(piece);
    },
    onReconnect() {
      api("GET", `/build/${buildId}`).then(({ build: next }) => update(next)).catch(() => {});
      tail.catchUp();
    },
    dispose() {
      clearInterval(ticking);
    },
  };
}

function stepTable(steps, showLog) {
  return h("table", { class: "steps" },
    h("caption", {}, "Steps"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Step"), h("th", { scope: "col" }, "Status"),
                                h("th", { scope: "col" }, "Exit code"), h("th", { scope: "col" }, "Time"),
                                h("th", { scope: "col" }, "Log"))),
    h("tbody", {}, steps.map((step) => h("tr", {},
      h("td", {}, step.name), h("td", {}, statusBadge(step.status)), h("td", {}, step.exitCode ?? "—"),
      h("td", {}, step.durationSeconds === null ? "—" : formatDuration(step.durationSeconds * 1000)),
      h("td", {}, step.startedAt ? h("button", { type: "button", "aria-label": `Show the log of step ${step.name}`,
                                                 onclick: () => showLog(step.name) }, "Show") : "—")))));
}

function keptBy(build) {
  const shown = [];
  const tests = build.testReport;
  if (tests) {
    shown.push(h("h2", {}, "Tests"),
      h("p", { class: "test-counts" }, `${tests.passed} passed, ${tests.failed} failed, ${tests.skipped} skipped`));
    if (tests.failedTests.length) {
      shown.push(h("ul", { class: "failed-tests" }, ...tests.failedTests.map((name) => h("li", {}, h("code", {}, name)))));
    }
  }
  if (build.artifacts?.length) {
    shown.push(h("h2", {}, "Artifacts"), h("ul", { class: "artifacts" }, ...build.artifacts.map((artifact) =>
      h("li", {}, h("a", { href: artifact.downloadUrl, download: "" }, artifact.name), ` ${sizeOf(artifact.size)}`))));
  }
  return shown;
}

function sizeOf(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
