// One project: its settings, its badge, and its builds newest first, kept live.
import { api } from "../api.js";
import { buildDuration, buildSummary, formatDuration, h, progress } from "../dom.js";

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
  main.append(
    h("div", { class: "heading" }, h("h1", { tabindex: "-1" }, project.name)),
    h("dl", { class: "facts" },
      h("dt", {}, "Repository"), h("dd", { class: "mono" }, project.repoUrl),
      h("dt", {}, "Branch"), h("dd", {}, project.branch),
      h("dt", {}, "Image"), h("dd", { class: "mono" }, project.image),
      h("dt", {}, "Command"), h("dd", {}, h("code", {}, project.buildCommand)),
      h("dt", {}, "Webhook"), h("dd", { class: "mono" }, project.webhookUrl)),
    badgeSettings(project),
    h("h2", {}, "Builds"),
    ...(page.builds.length ? [] : [h("p", { class: "empty" }, "No builds yet: push to the branch.")]),
    rows, more);

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
