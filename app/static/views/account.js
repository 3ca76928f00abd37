// The signed-in user's API tokens, and for Stoker's admins, its users and invitations.
import { api, goToProvider } from "../api.js";
import { check, errorText, field, h, problemText, submitting, timeAgo } from "../dom.js";
import { deletableList } from "../lists.js";
import { Scope } from "../words.js";
import { FORGE_NAMES } from "./new_project.js";

function shownOnce(id, label, value) {
  return h("div", { class: "shown-once" },
    field(id, label, h("input", { id, class: "mono", readonly: true, value })),
    h("p", { class: "warning" }, "It is shown only now. Copy it before you leave this page."));
}

export function showTokens(main) {
  const problem = problemText();
  const fresh = h("div", { "aria-live": "polite" });
  const { list, draw, drawn } = deletableList("/auth/tokens", "tokens", problem, {
    id: (token) => token.id, label: (token) => `Revoke ${token.name}`, empty: "No API tokens",
    attributes: (token) => ({ "data-token": token.name }), deleted: () => fresh.replaceChildren(),
    show: (token) => [h("span", { class: "who" }, token.name), ` ${token.scope}, last used `, timeAgo(token.lastUsedAt),
                      token.expiresAt ? [", expires ", timeAgo(token.expiresAt)] : ""] });

  const name = h("input", { id: "token-name", required: true, maxlength: 100, placeholder: "deploy script" });
  const scope = h("select", { id: "token-scope" }, ...Scope.ALL.map((value) => h("option", { value }, value)));
  const days = h("input", { id: "token-days", type: "number", min: 1, max: 3650, placeholder: "never" });
  main.append(h("h1", { tabindex: "-1" }, "API tokens"),
    h("p", {}, "For scripts and curl: send one as ", h("code", {}, "Authorization: Bearer stk_…"),
      ". A read token can only read."),
    list, fresh,
    h("form", { class: "panel", onsubmit: (event) => submitting(event, problem, async () => {
      const body = { name: name.value.trim(), scope: scope.value };
      if (days.value) body.expiresInDays = Number(days.value);
      const { token } = await api("POST", "/auth/tokens", body);
      fresh.replaceChildren(shownOnce("token-value", `Token ${token.name}`, token.value));
      name.value = days.value = "";
      await draw();
    }) },
      field("token-name", "Token name", name), field("token-scope", "Scope", scope),
      field("token-days", "Expires after (days)", days), problem,
      h("button", { type: "submit", class: "primary" }, "Make a token")));
  return Promise.all([drawn, showForgeAccounts(main), showSignIns(main)]);
}

// The sign-in providers linked to this account, and a button to link each other one the server has.
async function showSignIns(main) {
  const problem = problemText();
  const { list, drawn } = deletableList("/auth/identities", "identities", problem, {
    id: (identity) => identity.id, label: (identity) => `Unlink ${identity.provider}`,
    empty: "No sign-in provider linked", attributes: (identity) => ({ "data-identity": identity.provider }),
    show: (identity) => [h("span", { class: "who" }, identity.provider), ` as ${identity.login}, last used `,
                         timeAgo(identity.lastUsedAt)] });
  const { providers } = await api("GET", "/auth/providers");
  if (!providers.length) return drawn;
  const buttons = providers.map((provider) => h("button", {
    type: "button", "data-link": provider.name,
    onclick: async () => {
      errorText(problem, null);
      try {
        await goToProvider(`/auth/oauth/${provider.name}/link`, {});
      } catch (failure) {
        errorText(problem, failure);
      }
    },
  }, `Link ${provider.label}`));
  main.append(h("h2", {}, "Sign-in providers"),
    h("p", {}, "Sign in to Stoker with your account there, as well as with your password."),
    list, h("div", { class: "actions" }, ...buttons), problem);
  return drawn;
}

// The user's accounts on forges: connected with a token of theirs, they list repositories to make projects of.
function showForgeAccounts(main) {
  const problem = problemText();
  const { list, draw, drawn } = deletableList("/forges", "forges", problem, {
    id: (account) => account.forge, label: (account) => `Disconnect ${FORGE_NAMES[account.forge]}`,
    empty: "No forge connected", attributes: (account) => ({ "data-forge": account.forge }),
    show: (account) => [h("span", { class: "who" }, FORGE_NAMES[account.forge]), ` as ${account.login}`,
                        account.url ? ` at ${account.url}` : ""] });
  const forge = h("select", { id: "forge-kind" },
    ...Object.entries(FORGE_NAMES).map(([value, name]) => h("option", { value }, name)));
  const url = h("input", { id: "forge-url", type: "url", placeholder: "https://gitea.example.com" });
  const urlField = field("forge-url", "Forge address", url, "Your Gitea, Forgejo or GitLab server; GitHub needs none.");
  urlField.hidden = true;
  forge.addEventListener("change", () => { urlField.hidden = forge.value === "github"; });
  const token = h("input", { id: "forge-token", type: "password", autocomplete: "off", required: true });
  main.append(h("h2", {}, "Forge accounts"),
    h("p", {}, "Connect your account on a forge to make projects from its repositories, their webhooks added for you."),
    list,
    h("form", { class: "panel", onsubmit: (event) => submitting(event, problem, async () => {
      const body = { token: token.value };
      if (forge.value !== "github") body.url = url.value.trim();
      await api("PUT", `/forges/${forge.value}`, body);
      token.value = "";
      await draw();
    }) },
      field("forge-kind", "Forge", forge), urlField,
      field("forge-token", "Token", token, "A token of yours there that may read repositories and add webhooks. " +
            "Kept sealed, never shown again."),
      problem, h("button", { type: "submit", class: "primary" }, "Connect")));
  return drawn;
}

export async function showAdmin(main) {
  main.append(h("h1", { tabindex: "-1" }, "Users"));
  const problem = problemText();
  const list = h("ul", { class: "users" });

  async function draw() {
    const { users } = await api("GET", "/admin/users");
    list.replaceChildren(...users.map((user) => {
      const boxes = ["admin", "disabled"].map((flag) => {
        const box = h("input", { id: `user-${user.id}-${flag}`, type: "checkbox", checked: user[flag] });
        box.addEventListener("change", async () => {
          errorText(problem, null);
          await api("PATCH", `/admin/users/${user.id}`, { [flag]: box.checked }).catch((e) => errorText(problem, e));
          draw();
        });
        return check(box.id, `${flag === "admin" ? "Admin" : "Disabled"}`, box);
      });
      return h("li", { "data-user": user.username }, h("span", { class: "who" }, user.username), ...boxes);
    }));
  }
  try {
    await draw();
  } catch (failure) {
    main.append(h("p", { class: "error", role: "alert" }, failure.message));
    return;
  }
  const hours = h("input", { id: "invitation-hours", type: "number", min: 1, max: 720, value: 72 });
  const code = h("div", { "aria-live": "polite" });
  main.append(list, h("h2", {}, "Invitations"),
    h("form", { class: "panel", onsubmit: (event) => submitting(event, problem, async () => {
      const { invitation } = await api("POST", "/admin/invitations", { expiresInHours: Number(hours.value) });
      code.replaceChildren(shownOnce("invitation-code", "Invitation code (good for one registration)",
                                     invitation.code));
    }) },
      field("invitation-hours", "Good for (hours)", hours), problem,
      h("button", { type: "submit", class: "primary" }, "Make an invitation")),
    code);
  await showAgents(main);
}

// Build agents: hosts that run builds holding only a token of their own (`stoker agent`).
async function showAgents(main) {
  const problem = problemText();
  const fresh = h("div", { "aria-live": "polite" });
  const { list, draw, drawn } = deletableList("/admin/agents", "agents", problem, {
    id: (agent) => agent.id, label: (agent) => `Revoke ${agent.name}`, empty: "No agents",
    attributes: (agent) => ({ "data-agent": agent.name }), deleted: () => fresh.replaceChildren(),
    show: (agent) => [h("span", { class: "who" }, agent.name),
                      agent.labels.length ? ` (${agent.labels.join(", ")})` : "",
                      agent.paused ? " paused," : "", ` running ${agent.runningBuilds.length} of ${agent.concurrency},`,
                      " last seen ", timeAgo(agent.lastSeenAt), agent.version ? `, version ${agent.version}` : ""] });
  const name = h("input", { id: "agent-name", required: true, maxlength: 100, placeholder: "builder-1" });
  const labels = h("input", { id: "agent-labels", placeholder: "arch=arm64, gpu" });
  main.append(h("h2", {}, "Build agents"),
    h("p", {}, "Build hosts that hold no keys: run ", h("code", {}, "stoker agent --server " + location.origin),
      " there with its token as STOKER_AGENT_TOKEN."),
    list, fresh,
    h("form", { class: "panel", onsubmit: (event) => submitting(event, problem, async () => {
      const body = { name: name.value.trim(),
                     labels: labels.value.split(",").map((label) => label.trim()).filter(Boolean) };
      const { agent, token } = await api("POST", "/admin/agents", body);
      fresh.replaceChildren(shownOnce("agent-token", `Token of ${agent.name}`, token));
      name.value = labels.value = "";
      await draw();
    }) },
      field("agent-name", "Agent name", name), field("agent-labels", "Labels (comma-separated)", labels), problem,
      h("button", { type: "submit", class: "primary" }, "Add an agent")));
  return drawn;
}
