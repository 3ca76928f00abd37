// Making a project, then its webhook address and secret, shown this once, with its forge's steps.
import { api } from "../api.js";
import { errorText, field, h } from "../dom.js";

export function showNewProject(main, app) {
  const inputs = {
    name: h("input", { id: "name", required: true, maxlength: 100 }),
    forge: h("select", { id: "forge" }, ...Object.entries(FORGE_NAMES).map(([value, name]) => h("option", { value }, name))),
    forgeUrl: h("input", { id: "forgeUrl", type: "url", placeholder: "https://gitea.example.com",
                           "aria-describedby": "forgeUrl-hint" }),
    repoUrl: h("input", { id: "repoUrl", required: true, placeholder: "https://github.com/owner/repo.git",
                          "aria-describedby": "repoUrl-hint" }),
    branch: h("input", { id: "branch", value: "main", required: true }),
    image: h("input", { id: "image", placeholder: "the server's default image", "aria-describedby": "image-hint" }),
    buildCommand: h("textarea", { id: "buildCommand", rows: 3, placeholder: "make",
                                  "aria-describedby": "buildCommand-hint" }),
    public: h("input", { id: "public", type: "checkbox" }),
    repoToken: h("input", { id: "repoToken", type: "password", autocomplete: "off", "aria-describedby": "repoToken-hint" }),
    deployKey: h("input", { id: "deployKey", type: "checkbox" }),
  };
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const forgeUrlField = field("forgeUrl", "Forge address", inputs.forgeUrl,
                              "Where your Gitea, Forgejo or GitLab server is; GitHub needs none.");
  forgeUrlField.hidden = true;
  inputs.forge.addEventListener("change", () => { forgeUrlField.hidden = inputs.forge.value === "github"; });

  async function submit(event) {
    event.preventDefault();
    const body = { name: inputs.name.value, repoUrl: inputs.repoUrl.value.trim(),
                   branch: inputs.branch.value.trim(), public: inputs.public.checked };
    body.forge = inputs.forge.value;
    for (const key of ["image", "buildCommand", "repoToken", ...(body.forge === "github" ? [] : ["forgeUrl"])]) {
      if (inputs[key].value.trim()) body[key] = inputs[key].value;
    }
    if (inputs.deployKey.checked) body.deployKey = true;
    errorText(error, null);
    event.submitter.disabled = true;
    try {
      const { project } = await api("POST", "/project/projects", body);
      main.replaceChildren(created(project));
      main.querySelector("h1").focus();
    } catch (failure) {
      errorText(error, failure);
      event.submitter.disabled = false;
    }
  }

  main.append(h("section", { class: "card" },
    h("h1", { tabindex: "-1" }, "New project"),
    fromForge(main),
    h("form", { class: "stack", onsubmit: submit },
      field("name", "Name", inputs.name),
      field("forge", "Forge", inputs.forge),
      forgeUrlField,
      field("repoUrl", "Repository URL", inputs.repoUrl, "HTTPS or git@host:owner/repo; Stoker fetches it when a push arrives."),
      field("repoToken", "Repository token", inputs.repoToken,
            "For a private https:// repository: a token that may read it. Kept sealed, never shown again."),
      h("div", { class: "field inline" }, inputs.deployKey,
        h("label", { for: "deployKey" }, "Make a deploy key (private ssh repositories: git@host:owner/repo)")),
      field("branch", "Branch", inputs.branch),
      field("image", "Docker image", inputs.image, "Left empty, the server's default build image."),
      field("buildCommand", "Build command", inputs.buildCommand, "Runs in the checkout unless the repository has a .stoker.yml; left empty, make."),
      h("div", { class: "field inline" }, inputs.public, h("label", { for: "public" }, "Public status badge")),
      error,
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create project")))));
}

// A repository of the user's connected forge accounts, made a project in one step; none connected: nothing.
function fromForge(main) {
  const panel = h("form", { class: "stack panel", hidden: true });
  const repository = h("select", { id: "forgeRepository" });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  panel.addEventListener("submit", async (event) => {
    event.preventDefault();
    const [forge, forgeRepo] = repository.value.split(" ");
    errorText(error, null);
    event.submitter.disabled = true;
    try {
      const { project } = await api("POST", "/project/projects", { forge, forgeRepo, connect: true });
      main.replaceChildren(created(project));
      main.querySelector("h1").focus();
    } catch (failure) {
      errorText(error, failure);
      event.submitter.disabled = false;
    }
  });
  (async () => {
    const { forges } = await api("GET", "/forges");
    const groups = await Promise.all(forges.map(async (account) => {
      const { repositories } = await api("GET", `/forges/${account.forge}/repositories`);
      return h("optgroup", { label: `${FORGE_NAMES[account.forge]} (${account.login})` },
        ...repositories.map((repo) => h("option", { value: `${account.forge} ${repo.forgeRepo}` },
                                        repo.forgeRepo + (repo.private ? " (private)" : ""))));
    }));
    if (!groups.some((group) => group.children.length)) return;
    repository.replaceChildren(...groups);
    panel.append(field("forgeRepository", "From your forge", repository,
                       "Its webhook is added for you, and taken off with the project."),
                 error, h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create from forge")),
                 h("p", { class: "muted" }, "Or give a repository by hand:"));
    panel.hidden = false;
  })().catch((failure) => { errorText(error, failure); panel.hidden = false; panel.append(error); });
  return panel;
}

function copyable(id, label, value) {
  const input = h("input", { id, value, readonly: true, class: "mono" });
  const button = h("button", { type: "button", "aria-label": `Copy ${label}` }, "Copy");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(value);
    } catch {
      // No clipboard API outside secure contexts: copy the selection the old way.
      input.select();
      document.execCommand("copy");
    }
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  });
  return h("div", { class: "field" }, h("label", { for: id }, label), h("div", { class: "copy" }, input, button));
}

function created(project) {
  return h("section", { class: "card" },
    h("h1", { tabindex: "-1" }, `${project.name} is ready`),
    project.deployKey ? [
      h("p", {}, "Add this key to the repository's deploy keys (read-only); then run a build from the project's page."),
      copyable("deployKeyPublic", "Deploy key", project.deployKey)] :
      h("p", {}, "Its first build is queued at the head of ", h("code", {}, project.branch), "."),
    project.webhookAdded ?
      h("p", { class: "added" }, `Its webhook is in place on ${FORGE_NAMES[project.forge]}: every push builds here.`) : [
        h("p", {}, `To build every push, add a webhook in ${FORGE_NAMES[project.forge]}:`),
        copyable("webhookUrl", "Payload URL", project.webhookUrl),
        copyable("webhookSecret", "Secret", project.webhookSecret),
        h("p", { class: "warning" }, "The secret is shown only now. Copy it before you leave this page."),
        h("ol", { class: "steps" }, ...WEBHOOK_STEPS[project.forge].map((step) => h("li", {}, step)))],
    h("div", { class: "actions" }, h("a", { class: "button primary", href: `/projects/${project.id}` }, "Go to the project")));
}

export const FORGE_NAMES = { github: "GitHub", gitea: "Gitea", forgejo: "Forgejo", gitlab: "GitLab" };

const GITEA_STEPS = (name) => [
  `In the repository on ${name}, open Settings \u2192 Webhooks \u2192 Add webhook \u2192 ${name}.`,
  "Paste the payload URL as the target URL, keep POST and application/json, and paste the secret.",
  "Under \u201cTrigger on\u201d choose \u201cCustom events\u201d, tick \u201cPush\u201d and " +
  "\u201cPull request\u201d, and press Add webhook. The next push builds here.",
];

// How each forge's webhook is added, in its own words.
const WEBHOOK_STEPS = {
  github: [
    "In the repository on GitHub, open Settings \u2192 Webhooks \u2192 Add webhook.",
    "Paste the payload URL, choose the content type application/json, and paste the secret.",
    "Choose \u201cLet me select individual events\u201d, tick \u201cPushes\u201d and " +
    "\u201cPull requests\u201d, and press Add webhook. The next push builds here.",
  ],
  gitea: GITEA_STEPS("Gitea"),
  forgejo: GITEA_STEPS("Forgejo"),
  gitlab: [
    "In the project on GitLab, open Settings \u2192 Webhooks \u2192 Add new webhook.",
    "Paste the payload URL as the URL, and the secret as the secret token.",
    "Tick \u201cPush events\u201d, \u201cTag push events\u201d and \u201cMerge request events\u201d, " +
    "and press Add webhook. The next push builds here.",
  ],
};
