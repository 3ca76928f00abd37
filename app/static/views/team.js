// A project's people and its keys: members and roles, the deploy key, the audit trail, and deleting it.
import { api } from "../api.js";
import { errorText, field, h, problemText, submitting, timeAgo } from "../dom.js";
import { deletableList } from "../lists.js";
import { Role } from "../words.js";

function roleSelect(id, selected) {
  return h("select", { id }, ...Role.ALL.map((role) => h("option", { value: role, selected: role === selected }, role)));
}

/** Everyone in the project; an admin adds people, changes their roles and removes them. */
export function membersPanel(project, app) {
  const admin = project.role === Role.ADMIN;
  const base = `/project/projects/${project.id}/members`;
  const list = h("ul", { class: "members" });
  const problem = problemText();

  async function change(work) {
    errorText(problem, null);
    try {
      await work();
    } catch (failure) {
      errorText(problem, failure);
    }
    await draw();
  }

  async function draw() {
    const { members } = await api("GET", base);
    const me = await whoAmI();
    list.replaceChildren(...members.map((member) => {
      const id = `member-role-${member.username}`;
      const select = roleSelect(id, member.role);
      select.addEventListener("change", () => change(() =>
        api("PUT", `${base}/${encodeURIComponent(member.username)}`, { role: select.value })));
      const leaving = member.username === me;
      return h("li", { "data-member": member.username },
        h("span", { class: "who" }, member.username), " ",
        admin ? h("label", { for: id, class: "visually-hidden" }, `Role of ${member.username}`) : null,
        admin ? select : h("span", { class: "role" }, member.role), " ",
        admin || leaving ? h("button", { type: "button", class: "danger", onclick: () => change(async () => {
          await api("DELETE", `${base}/${encodeURIComponent(member.username)}`);
          if (leaving) app.navigate("/");
        }) }, leaving ? "Leave the project" : `Remove ${member.username}`) : null);
    }));
  }
  draw().catch((e) => errorText(problem, e));

  const username = h("input", { id: "member-username", required: true, autocomplete: "off" });
  const role = roleSelect("member-role", Role.READ);
  return h("details", { class: "panel members-panel" }, h("summary", {}, "Members"), list,
    !admin ? problem : h("form", { onsubmit: (event) => submitting(event, problem, async () => {
      await api("PUT", `${base}/${encodeURIComponent(username.value.trim())}`, { role: role.value });
      username.value = "";
      await draw();
    }) },
      field("member-username", "Username", username), field("member-role", "Role", role), problem,
      h("button", { type: "submit" }, "Add member")),
    h("p", { class: "hint" }, "read: see builds and logs; write: also run, rebuild, cancel, approve; " +
                              "admin: also settings, secrets, schedules, members and deleting the project."));
}

let me = null;
async function whoAmI() {
  me ??= api("GET", "/auth/me").then(({ user }) => user.username);
  return me;
}
window.addEventListener("stoker:session-ended", () => { me = null; });

/** The public half of the project's deploy key, to paste into the repository's deploy keys. */
export function deployKeyPanel(project) {
  const ssh = project.repoUrl.startsWith("ssh://") || /^[^/]+@[^/:]+:/.test(project.repoUrl);
  const key = h("textarea", { id: "deploy-key", class: "mono", rows: 2, readonly: true },
                project.deployKey || "");
  const problem = problemText();
  return h("details", { class: "panel deploy-key-panel" }, h("summary", {}, "Deploy key"),
    !ssh ? h("p", { class: "hint" }, "A deploy key is for an ssh repository (git@host:owner/repo); " +
                                     "an https:// one is given a repository token in the settings.") :
      h("form", { onsubmit: (event) => submitting(event, problem, async () => {
        const { deployKey } = await api("POST", `/project/projects/${project.id}/deploy-key`);
        key.value = deployKey.publicKey;
      }) },
        field("deploy-key", "Public key (add it to the repository's deploy keys, read-only)", key), problem,
        h("button", { type: "submit" }, project.deployKey ? "Make a new key" : "Make a key")));
}

/** Who did what to the project, newest first. */
export function auditPanel(project) {
  const list = h("ol", { class: "audit" });
  const problem = problemText();
  const panel = h("details", { class: "panel audit-panel" }, h("summary", {}, "Audit trail"), list, problem);
  panel.addEventListener("toggle", () => {
    if (!panel.open) return;
    api("GET", `/project/projects/${project.id}/audit?limit=100`)
      .then(({ entries }) => list.replaceChildren(...entries.map((entry) => h("li", {},
        timeAgo(entry.at), " ", h("span", { class: "who" }, entry.user), " ", h("code", {}, entry.action),
        entry.target ? ` ${entry.target}` : ""))))
      .catch((e) => errorText(problem, e));
  });
  return panel;
}

/** Deleting takes typing the project's name, as GitHub asks for a repository's. */
export function deleteProject(project, app) {
  const typed = h("input", { id: "delete-name", autocomplete: "off" });
  const button = h("button", { type: "submit", class: "danger", disabled: true }, "Delete this project");
  const problem = problemText();
  typed.addEventListener("input", () => { button.disabled = typed.value !== project.name; });
  return h("details", { class: "panel danger-zone" }, h("summary", {}, "Delete project"),
    h("p", {}, "Its running builds stop, and its builds, logs, secrets, schedules and members are removed. " +
               "This cannot be undone."),
    h("form", { onsubmit: (event) => submitting(event, problem, async () => {
      await api("DELETE", `/project/projects/${project.id}`);
      app.say(`${project.name} was deleted`);
      app.navigate("/");
    }) },
      field("delete-name", `Type ${project.name} to confirm`, typed), problem, button));
}

/** Credentials for the registries its builds pull images from, by host; passwords never shown. */
export function registriesPanel(project) {
  const base = `/project/projects/${project.id}/registries`;
  const problem = problemText();
  const host = h("input", { id: "registry-host", required: true, placeholder: "registry.example.com:5000" });
  const username = h("input", { id: "registry-username", required: true, autocomplete: "off" });
  const password = h("input", { id: "registry-password", type: "password", required: true, autocomplete: "off" });
  const { list, draw } = deletableList(base, "registries", problem, {
    id: (r) => r.host, label: (r) => `Forget ${r.host}`, empty: "No registries",
    attributes: (r) => ({ "data-registry": r.host }), show: (r) => [h("code", {}, r.host), ` as ${r.username}`] });
  return h("details", { class: "panel registries-panel" }, h("summary", {}, "Registries"), list,
    h("form", { onsubmit: (event) => submitting(event, problem, async () => {
      await api("PUT", `${base}/${encodeURIComponent(host.value.trim())}`,
                { username: username.value, password: password.value });
      host.value = username.value = password.value = "";
      await draw();
    }) },
      field("registry-host", "Registry", host), field("registry-username", "Registry username", username),
      field("registry-password", "Registry password", password), problem,
      h("button", { type: "submit" }, "Save registry")),
    h("p", { class: "hint" }, "Used to pull the images its steps name; never given to a build, nor to a fork's."));
}

/** Outgoing webhooks: where the project's build outcomes are posted; each secret is shown once. */
export function hooksPanel(project) {
  const base = `/project/projects/${project.id}/hooks`;
  const problem = problemText();
  const said = h("p", { class: "hook-result", role: "status" });
  const url = h("input", { id: "hook-url", type: "url", required: true, placeholder: "https://chat.example.com/hooks/ci" });
  const branches = h("input", { id: "hook-branches", placeholder: "main, release/*" });
  const outcomes = ["failed", "fixed", "passed", "canceled"].map((outcome) =>
    h("label", { class: "check" }, h("input", { type: "checkbox", value: outcome,
                                                checked: outcome === "failed" || outcome === "fixed" }), ` ${outcome}`));

  async function test(hook) {
    errorText(problem, null);
    try {
      said.textContent = (await api("POST", `${base}/${hook.id}/test`)).message;
    } catch (failure) {
      errorText(problem, failure);
    }
  }

  const { list, draw } = deletableList(base, "hooks", problem, {
    id: (hook) => hook.id, label: (hook) => `Remove ${hook.url}`, empty: "No webhooks",
    attributes: (hook) => ({ "data-hook": hook.id }),
    show: (hook) => [h("code", {}, hook.url), ` on ${hook.outcomes.join(", ")}`,
      hook.branches.length ? ` of ${hook.branches.join(", ")}` : "",
      hook.lastDelivery ? h("span", { class: "muted" },
        ` · last ${hook.lastDelivery.delivered ? "delivered" : hook.lastDelivery.pending ? "pending" : "not taken"}`) : "",
      " ", h("button", { type: "button", onclick: () => test(hook) }, `Send a test to ${hook.url}`)] });

  return h("details", { class: "panel hooks-panel" }, h("summary", {}, "Webhooks"), list, said,
    h("form", { onsubmit: (event) => submitting(event, problem, async () => {
      const { secret } = await api("POST", base, {
        url: url.value.trim(),
        outcomes: outcomes.map((label) => label.querySelector("input")).filter((box) => box.checked).map((box) => box.value),
        branches: branches.value.split(",").map((name) => name.trim()).filter(Boolean),
      });
      said.replaceChildren("Added. Its secret, shown this once, signs every body (X-Stoker-Signature-256): ",
                           h("code", { class: "hook-secret" }, secret));
      url.value = branches.value = "";
      await draw();
    }) },
      field("hook-url", "Webhook URL", url), h("fieldset", {}, h("legend", {}, "Post builds that"), ...outcomes),
      field("hook-branches", "Of branches (none: all)", branches), problem,
      h("button", { type: "submit" }, "Add webhook")),
    h("p", { class: "hint" }, "A JSON body with the build and project, retried with backoff until the target takes it."));
}
