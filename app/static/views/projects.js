// The signed-in user's projects, each with its latest build kept live.
import { api } from "../api.js";
import { buildSummary, h, progress } from "../dom.js";

export async function showProjects(main, app) {
  main.append(h("div", { class: "heading" },
    h("h1", { tabindex: "-1" }, "Projects"),
    h("a", { class: "button primary", href: "/projects/new" }, "New project")));
  let projects;
  try {
    ({ projects } = await api("GET", "/project/projects"));
  } catch (error) {
    main.append(h("p", { class: "error", role: "alert" }, error.message));
    return;
  }
  if (!projects.length) {
    main.append(h("p", { class: "empty" }, "No projects yet. Create one, and every push to its branch builds here."));
    return;
  }
  const latest = new Map();
  const list = h("ul", { class: "cards" }, projects.map((project) => {
    latest.set(project.id, project.latestBuild);
    return h("li", { class: "card project", "data-project-id": project.id },
      h("h2", {}, h("a", { href: `/projects/${project.id}` }, project.name)),
      h("p", { class: "muted repo" }, `${project.repoUrl} · ${project.branch}`),
      h("div", { class: "latest" },
        project.latestBuild ? buildSummary(project.latestBuild) : h("p", { class: "muted" }, "No builds yet")));
  }));
  main.append(list);

  return {
    onReconnect() {
      api("GET", "/project/projects")
        .then((fresh) => fresh.projects.forEach((p) => p.latestBuild && this.onStatus(p.latestBuild)))
        .catch(() => {});
    },
    onStatus(build) {
      const shown = latest.get(build.projectId);
      if (shown === undefined) return; // not a project on this list
      if (shown && (build.id < shown.id || (build.id === shown.id && progress(build.status) < progress(shown.status)))) return;
      latest.set(build.projectId, build);
      list.querySelector(`[data-project-id="${build.projectId}"] .latest`).replaceChildren(buildSummary(build));
    },
  };
}
