// One project: its facts, a Run button, its settings, schedules and secrets, its badge, and its
// builds newest first, kept live.
import { api } from "../api.js";
import { buildDuration, buildSummary, check, field, formatDuration, h, problemText, progress, submitting }
  from "../dom.js";
import { deletableList } from "../lists.js";
import { Event, ForkPolicy, Role } from "../words.js";
import { auditPanel, deleteProject, deployKeyPanel, hooksPanel, membersPanel, registriesPanel } from "./team.js";

const PAGE = 30;

export async function showProject(main, app, projectId) {
  let project, page;
  try {
    [{ project }, page] = await Promise.all([
      api("GET", `/project/projects/${projectId}`),
      api("GET", `/project/projects/${projectId}/builds?limit=${PAGE}`),
    ]);
  } catch (error) {
    main.append(h("h1", { tabindex: "-1" }, "Project"), h("p", { class: "error", role: "alert" }, error.message));
    return;
  }
  const shown = new Map();
  const rows = h("ol", { class: "builds", "aria-label": "Builds, newest first" });
  const more = h("button", { type: "button", hidden: page.total <= PAGE, onclick: loadOlder }, "Show older builds");

  function row(build) {
    shown.set(build.id, build);
    return h("li", { class: "build-row", "data-build-id": build.id },
      buildSummary(build),
      h("span", { class: "duration muted" }, formatDuration(buildDuration(build))));
  }

  async function loadOlder() {
    more.disabled = true;
    const older = await api("GET", `/project/projects/${projectId}/builds?limit=${PAGE}&offset=${shown.size}`);
    rows.append(...older.builds.filter((b) => !shown.has(b.id)).map(row));
    more.hidden = shown.size >= older.total;
    more.disabled = false;
  }

  rows.append(...page.builds.map(row));
  const writes = project.role !== Role.READ, admin = project.role === Role.ADMIN;
  // Only what the caller's role lets them use is drawn (the server refuses the rest anyway).
  main.append(...[
    h("div", { class: "heading" }, h("h1", { tabindex: "-1" }, project.name)),
    h("dl", { class: "facts" },
      h("dt", {}, "Repository"), h("dd", { class: "mono" }, project.repoUrl),
      h("dt", {}, "Branch"), h("dd", {}, project.branch),
      h("dt", {}, "Image"), h("dd", { class: "mono" }, project.image),
      h("dt", {}, "Command"), h("dd", {}, h("code", {}, project.buildCommand)),
      h("dt", {}, "Webhook"), h("dd", { class: "mono" }, project.webhookUrl),
      h("dt", {}, "Your role"), h("dd", { class: "role" }, project.role)),
    writes ? runForm(app, project) : null,
    admin ? settingsForm(project, main) : null,
    schedulesPanel(project, admin),
    admin ? secretsPanel(project) : null,
    membersPanel(project, app),
    admin ? deployKeyPanel(project) : null,
    admin ? registriesPanel(project) : null,
    admin ? hooksPanel(project) : null,
    admin ? badgeSettings(project) : null,
    admin ? auditPanel(project) : null,
    admin ? deleteProject(project, app) : null,
    h("h2", {}, "Builds"),
    ...(page.builds.length ? [] : [h("p", { class: "empty" }, "No builds yet: push to the branch.")]),
    rows, more].filter(Boolean));

  return {
    onStatus(build) {
      if (build.projectId !== projectId) return;
      const before = shown.get(build.id);
      if (before && progress(build.status) < progress(before.status)) return;
      const fresh = row(build);
      const existing = rows.querySelector(`[data-build-id="${build.id}"]`);
      if (existing) existing.replaceWith(fresh);
      else if (!before) insertNewest(rows, fresh, build.id);
      main.querySelector(".empty")?.remove();
    },
    onReconnect() {
      // Whatever changed while the connection was down: draw the newest page again.
      api("GET", `/project/projects/${projectId}/builds?limit=${PAGE}`)
        .then(({ builds }) => builds.reverse().forEach((b) => this.onStatus(b)))
        .catch(() => {});
    },
  };
}

/** Builds are listed newest (highest id) first; a new one goes above every older one. */
function insertNewest(rows, fresh, id) {
  const below = [...rows.children].find((li) => Number(li.dataset.buildId) < id);
  rows.insertBefore(fresh, below || null);
}

function badgeSettings(project) {
  const markdown = h("input", { id: "badge-markdown", class: "mono", readonly: true,
                                value: `![build](${project.badgeUrl})` });
  const preview = h("div", { class: "badge-preview" });
  const toggle = h("input", { id: "public", type: "checkbox", checked: project.public });
  function draw(isPublic) {
    preview.hidden = !isPublic;
    preview.replaceChildren(isPublic ? h("img", { src: `/badge/${project.id}.svg?t=${Date.now()}`, alt: "build status badge" }) : "",
                            isPublic ? markdown : "");
  }
  toggle.addEventListener("change", async () => {
    toggle.disabled = true;
    try {
      ({ project } = await api("PATCH", `/project/projects/${project.id}`, { public: toggle.checked }));
    } catch {
      toggle.checked = project.public;
    }
    toggle.disabled = false;
    draw(project.public);
  });
  draw(project.public);
  return h("div", { class: "badge-settings" },
    h("div", { class: "field inline" }, toggle,
      h("label", { for: "public" }, "Public status badge (anyone can see this project's latest status)")),
    preview);
}

/** "NAME=value" lines as an object; a line without "=" is an error named by its number. */
function parseVariables(text) {
  const variables = {};
  text.split("\n").map((line) => line.trim()).forEach((line, index) => {
    if (!line) return;
    const cut = line.indexOf("=");
    if (cut < 1) throw new Error(`Variables line ${index + 1}: write NAME=value`);
    variables[line.slice(0, cut).trim()] = line.slice(cut + 1);
  });
  return variables;
}

function runForm(app, project) {
  const branch = h("input", { id: "run-branch", value: project.branch, required: true });
  const variables = h("textarea", { id: "run-variables", rows: 2, placeholder: "NAME=value, one a line" });
  const problem = h("p", { class: "error", role: "alert", hidden: true });
  return h("details", { class: "panel run" }, h("summary", {}, "Run a build"),
    h("form", { onsubmit: (event) => submitting(event, problem, async () => {
      const body = { branch: branch.value.trim(), variables: parseVariables(variables.value) };
      const { build } = await api("POST", `/project/projects/${project.id}/builds`, body);
      app.navigate(`/builds/${build.id}`);
    }) },
      field("run-branch", "Branch", branch), field("run-variables", "Variables", variables), problem,
      h("button", { type: "submit" }, "Run")));
}

function settingsForm(project, main) {
  const inputs = {
    name: h("input", { id: "set-name", value: project.name, required: true, maxlength: 100 }),
    repoUrl: h("input", { id: "set-repoUrl", value: project.repoUrl, required: true }),
    repoToken: h("input", { id: "set-repoToken", type: "password", autocomplete: "off",
                            placeholder: project.hasRepoToken ? "set; type to replace it" : "none" }),
    branch: h("input", { id: "set-branch", value: project.branch, required: true }),
    branches: h("input", { id: "set-branches", value: project.branches.join(", ") }),
    buildCommand: h("textarea", { id: "set-buildCommand", rows: 2 }, project.buildCommand),
    image: h("input", { id: "set-image", value: project.image }),
    timeoutSeconds: h("input", { id: "set-timeoutSeconds", type: "number", min: 1, value: project.timeoutSeconds }),
    concurrency: h("input", { id: "set-concurrency", type: "number", min: 1, value: project.concurrency ?? "",
                              placeholder: "no limit" }),
    keepBuilds: h("input", { id: "set-keepBuilds", type: "number", min: 1, value: project.keepBuilds ?? "",
                             placeholder: "every build" }),
    notifyEmails: h("input", { id: "set-notifyEmails", value: project.notifyEmails.join(", "),
                               placeholder: "nobody" }),
    forkPullRequests: h("select", { id: "set-forkPullRequests" },
      ...[[ForkPolicy.APPROVE, "wait for approval"], [ForkPolicy.BUILD, "build at once (still without secrets)"],
        [ForkPolicy.IGNORE, "ignore"]]
        .map(([value, label]) => h("option", { value, selected: project.forkPullRequests === value }, label))),
    tags: h("input", { id: "set-tags", type: "checkbox", checked: project.tags }),
    pullRequests: h("input", { id: "set-pullRequests", type: "checkbox", checked: project.pullRequests }),
    autoCancel: h("input", { id: "set-autoCancel", type: "checkbox", checked: project.autoCancel }),
    network: h("input", { id: "set-network", value: project.network ?? "", placeholder: "the server's default" }),
    githubRepo: h("input", { id: "set-githubRepo", value: project.githubRepo ?? "", placeholder: "owner/repo" }),
    githubToken: h("input", { id: "set-githubToken", type: "password", autocomplete: "off",
                              placeholder: project.reportsToGithub ? "set; type to replace it" : "none" }),
  };
  const problem = h("p", { class: "error", role: "alert", hidden: true });
  const saved = h("p", { class: "hint", role: "status" });
  return h("details", { class: "panel settings" }, h("summary", {}, "Settings"),
    h("form", { onsubmit: (event) => submitting(event, problem, async () => {
      saved.textContent = "";
      const body = {
        name: inputs.name.value, branch: inputs.branch.value.trim(),
        branches: inputs.branches.value.split(",").map((b) => b.trim()).filter(Boolean),
        buildCommand: inputs.buildCommand.value, image: inputs.image.value.trim(),
        timeoutSeconds: Number(inputs.timeoutSeconds.value),
        concurrency: inputs.concurrency.value ? Number(inputs.concurrency.value) : null,
        keepBuilds: inputs.keepBuilds.value ? Number(inputs.keepBuilds.value) : null,
        notifyEmails: inputs.notifyEmails.value.split(",").map((a) => a.trim()).filter(Boolean),
        forkPullRequests: inputs.forkPullRequests.value, tags: inputs.tags.checked,
        pullRequests: inputs.pullRequests.checked, autoCancel: inputs.autoCancel.checked,
      };
      if (inputs.repoUrl.value.trim() !== project.repoUrl) body.repoUrl = inputs.repoUrl.value.trim();
      if (inputs.repoToken.value) body.repoToken = inputs.repoToken.value;
      if ((inputs.network.value.trim() || null) !== project.network) body.network = inputs.network.value.trim() || null;
      if (inputs.githubRepo.value.trim() && inputs.githubRepo.value.trim() !== project.githubRepo) {
        body.githubRepo = inputs.githubRepo.value.trim();
      }
      if (inputs.githubToken.value) body.githubToken = inputs.githubToken.value;
      ({ project } = await api("PATCH", `/project/projects/${project.id}`, body));
      inputs.repoToken.value = inputs.githubToken.value = "";
      inputs.repoToken.placeholder = project.hasRepoToken ? "set; type to replace it" : "none";
      main.querySelector("h1").textContent = project.name;
      saved.textContent = "Saved";
    }) },
      field("set-name", "Name", inputs.name), field("set-repoUrl", "Repository URL", inputs.repoUrl),
      field("set-repoToken", "Repository token (private https:// repositories)", inputs.repoToken),
      field("set-branch", "Default branch", inputs.branch),
      field("set-branches", "Branches that build (globs, comma-separated)", inputs.branches),
      field("set-buildCommand", "Build command", inputs.buildCommand), field("set-image", "Image", inputs.image),
      field("set-timeoutSeconds", "Timeout (seconds)", inputs.timeoutSeconds),
      field("set-concurrency", "Builds at once", inputs.concurrency),
      field("set-keepBuilds", "Finished builds kept (the newest; older ones are deleted)", inputs.keepBuilds),
      field("set-notifyEmails", "Mail when the default branch fails or is fixed (addresses, comma-separated)",
            inputs.notifyEmails),
      field("set-forkPullRequests", "Pull requests from forks", inputs.forkPullRequests),
      check("set-tags", "Build tags", inputs.tags), check("set-pullRequests", "Build pull requests", inputs.pullRequests),
      check("set-autoCancel", "A new push cancels older builds of its branch", inputs.autoCancel),
      field("set-network", "Network for its builds (one the server allows)", inputs.network),
      field("set-githubRepo", "GitHub repository for commit statuses", inputs.githubRepo),
      field("set-githubToken", "GitHub token for commit statuses", inputs.githubToken),
      problem, saved, h("button", { type: "submit" }, "Save settings")));
}

function schedulesPanel(project, admin) {
  const name = h("input", { id: "schedule-name", required: true, placeholder: "nightly" });
  const cron = h("input", { id: "schedule-cron", required: true, placeholder: "0 3 * * *" });
  const problem = problemText();
  const base = `/project/projects/${project.id}/schedules`;
  const { list, draw } = deletableList(base, "schedules", problem, {
    id: (s) => s.name, label: (s) => `Delete ${s.name}`, deletes: admin,
    show: (s) => [h("code", {}, s.cron), ` ${s.name} on ${s.branch}, next at ${s.nextRunAt}`] });
  return h("details", { class: "panel schedules-panel" }, h("summary", {}, "Schedules"), list, admin ? null : problem,
    !admin ? null : h("form", { onsubmit: (event) => submitting(event, problem, async () => {
      await api("PUT", `${base}/${encodeURIComponent(name.value.trim())}`, { cron: cron.value.trim() });
      name.value = cron.value = "";
      await draw();
    }) },
      field("schedule-name", "Schedule name", name), field("schedule-cron", "Cron line (UTC, five fields)", cron), problem,
      h("button", { type: "submit" }, "Add schedule")));
}

function secretsPanel(project) {
  const problem = problemText();
  const base = `/project/projects/${project.id}/secrets`;
  const name = h("input", { id: "secret-name", required: true, placeholder: "API_KEY", autocomplete: "off" });
  const value = h("input", { id: "secret-value", type: "password", required: true, minlength: 4, autocomplete: "off" });
  const events = Event.ALL.map((event) => h("input", { id: `secret-event-${event}`, type: "checkbox", value: event,
                                                       checked: Event.SECRET_DEFAULT.includes(event) }));
  const { list, draw } = deletableList(base, "secrets", problem, {
    id: (s) => s.name, label: (s) => `Delete ${s.name}`, empty: "No secrets",
    show: (s) => [h("code", {}, s.name), ` for ${s.events.join(", ")}`] });
  return h("details", { class: "panel secrets-panel" }, h("summary", {}, "Secrets"), list,
    h("form", { onsubmit: (event) => submitting(event, problem, async () => {
      const chosen = events.filter((box) => box.checked).map((box) => box.value);
      await api("PUT", `${base}/${encodeURIComponent(name.value.trim())}`, { value: value.value, events: chosen });
      name.value = value.value = "";
      await draw();
    }) },
      field("secret-name", "Secret name", name), field("secret-value", "Value (at least 4 characters)", value),
      h("fieldset", {}, h("legend", {}, "Given to builds of"),
        ...events.map((box) => check(box.id, box.value.replace("_", " "), box))),
      problem, h("button", { type: "submit" }, "Save secret")),
    h("p", { class: "hint" }, "A value is never shown again. A fork's pull request never receives a secret."));
}
