// Signing in, or making an account and signing in with it.
import { api, goToProvider } from "../api.js";
import { errorText, h } from "../dom.js";

export function showSignIn(main, app) {
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const username = h("input", { id: "username", name: "username", autocomplete: "username",
                                required: true, minlength: 3, maxlength: 40 });
  const password = h("input", { id: "password", name: "password", type: "password",
                                autocomplete: "current-password", required: true, minlength: 8 });
  // Only needed to create an account once the first one exists: an admin hands out codes.
  const invitation = h("input", { id: "invitation", name: "invitation", autocomplete: "off" });

  async function submit(event) {
    event.preventDefault();
    const registering = event.submitter?.value === "register";
    const credentials = { username: username.value, password: password.value };
    errorText(error, null);
    try {
      if (registering) {
        const code = invitation.value.trim();
        await api("POST", "/auth/register", code ? { ...credentials, invitation: code } : credentials);
      }
      const { accessToken } = await api("POST", "/auth/login", credentials);
      app.signedIn(accessToken);
    } catch (failure) {
      errorText(error, failure);
    }
  }

  // One button per sign-in provider the server has; with an invitation code filled in, it makes an
  // account if the provider's one is linked to none.
  const providers = h("div", { class: "actions providers" });
  api("GET", "/auth/providers").then(({ providers: found }) => {
    providers.replaceChildren(...found.map((provider) => h("button", {
      type: "button", "data-provider": provider.name,
      onclick: async () => {
        errorText(error, null);
        const code = invitation.value.trim();
        try {
          await goToProvider(`/auth/oauth/${provider.name}/start`, code ? { invitation: code } : {});
        } catch (failure) {
          errorText(error, failure);
        }
      },
    }, `Sign in with ${provider.label}`)));
  }).catch(() => {});

  main.append(h("section", { class: "card narrow" },
    h("h1", { tabindex: "-1" }, "Sign in to Stoker"),
    providers,
    h("form", { class: "stack", onsubmit: submit },
      h("label", { for: "username" }, "Username"), username,
      h("label", { for: "password" }, "Password"), password,
      h("label", { for: "invitation" }, "Invitation code (to create an account)"), invitation,
      error,
      h("div", { class: "actions" },
        h("button", { type: "submit", value: "login", class: "primary" }, "Sign in"),
        h("button", { type: "submit", value: "register" }, "Create account")))));
}
