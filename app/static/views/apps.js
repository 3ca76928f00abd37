// App builds: a web app's URL in, a signed App Bundle and APK (or an Xcode project) out, each kept live.
import { api } from "../api.js";
import { errorText, h, statusBadge, timeAgo } from "../dom.js";
import { AppBuildStatus } from "../words.js";

// What each platform's WebView can use (the API refuses the rest, saying why).
const PERMISSIONS = { android: ["camera", "gps", "microphone", "vibrate"], ios: ["camera", "gps", "microphone"] };
const KINDS = { aab: "Android App Bundle (for Google Play)", apk: "Android APK (to install and try)",
                "xcode-project": "Xcode project (.zip)" };
const DONE = AppBuildStatus.FINISHED;

function field(id, label, input, hint) {
  return h("div", { class: "field" },
    h("label", { for: id }, label), input, hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null);
}

function downloads(build) {
  const artifacts = build.artifacts || (build.downloadUrl ? [{ kind: build.artifact, downloadUrl: build.downloadUrl }] : []);
  return artifacts.map((artifact, index) => h("a", {
    class: `button ${index === 0 ? "primary" : ""} download`, href: artifact.downloadUrl, download: "",
  }, `Download ${KINDS[artifact.kind] || artifact.kind}`));
}

function appCard(build) {
  const kind = KINDS[build.artifact] || build.artifact;
  return h("li", { class: "card app-build", "data-app-build-id": build.id },
    h("div", { class: "summary" },
      statusBadge(build.status),
      h("strong", { class: "app-name" }, build.name),
      h("span", { class: "meta" },
        h("code", {}, build.bundleId), h("span", {}, build.version), h("span", {}, kind),
        timeAgo(build.createdAt))),
    h("p", { class: "muted repo" }, build.url),
    build.error ? h("p", { class: "build-error" }, build.error) : null,
    h("div", { class: "actions" }, downloads(build)));
}

export async function showApps(main, app) {
  const inputs = {
    url: h("input", { id: "url", type: "url", required: true, placeholder: "https://example.com/app" }),
    name: h("input", { id: "name", required: true, maxlength: 50 }),
    bundleId: h("input", { id: "bundleId", required: true, placeholder: "com.example.myapp",
                           "aria-describedby": "bundleId-hint" }),
    version: h("input", { id: "version", required: true, value: "1.0.0", "aria-describedby": "version-hint" }),
    platform: h("select", { id: "platform", onchange: () => showPermissions() },
                h("option", { value: "android" }, "Android (signed App Bundle and APK)"),
                h("option", { value: "ios" }, "iOS (Xcode project)")),
  };
  const boxes = PERMISSIONS.android.map((name) => h("input", { type: "checkbox", id: `permission-${name}`, value: name }));
  const boxFields = boxes.map((box) => h("span", { class: "field inline" }, box, h("label", { for: box.id }, box.value)));
  function showPermissions() {
    const allowed = PERMISSIONS[inputs.platform.value];
    boxes.forEach((box, index) => {
      boxFields[index].hidden = !allowed.includes(box.value);
      if (boxFields[index].hidden) box.checked = false;
    });
  }
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const list = h("ul", { class: "cards" });
  const shown = new Map();

  function draw(build) {
    const old = shown.get(build.id);
    if (old && DONE.includes(old.status) && !DONE.includes(build.status)) return; // a stale event
    shown.set(build.id, build);
    const card = appCard(build);
    const existing = list.querySelector(`[data-app-build-id="${CSS.escape(build.id)}"]`);
    if (existing) existing.replaceWith(card);
    else list.prepend(card);
    empty.hidden = shown.size > 0;
  }

  async function submit(event) {
    event.preventDefault();
    const body = { url: inputs.url.value.trim(), name: inputs.name.value, bundleId: inputs.bundleId.value.trim(),
                   version: inputs.version.value.trim(), platform: inputs.platform.value,
                   permissions: boxes.filter((box) => box.checked).map((box) => box.value) };
    errorText(error, null);
    event.submitter.disabled = true;
    try {
      draw(await api("POST", "/v1/builds", body));
    } catch (failure) {
      errorText(error, failure);
    } finally {
      event.submitter.disabled = false;
    }
  }

  const empty = h("p", { class: "empty" }, "No app builds yet.");
  main.append(
    h("div", { class: "heading" }, h("h1", { tabindex: "-1" }, "App builds")),
    h("section", { class: "card" },
      h("h2", {}, "Make an app from a web app"),
      h("form", { class: "stack", onsubmit: submit },
        field("url", "Web app URL", inputs.url),
        field("name", "Name on the home screen", inputs.name),
        field("bundleId", "Bundle id", inputs.bundleId, "Reverse DNS. It is yours once built, and every build of it is signed with one key."),
        field("version", "Version", inputs.version, "Semver, higher than the last build of this bundle id."),
        field("platform", "Platform", inputs.platform),
        h("fieldset", { class: "permissions" }, h("legend", {}, "Permissions"), boxFields),
        error,
        h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Build the app")))),
    h("h2", {}, "Your app builds"), empty, list);

  async function load() {
    const { data } = await api("GET", "/v1/builds?limit=100");
    for (const build of data.reverse()) draw(build);
  }
  try {
    await load();
  } catch (failure) {
    main.append(h("p", { class: "error", role: "alert" }, failure.message));
  }
  return {
    onReconnect() { load().catch(() => {}); },
    onAppStatus(build) { draw(build); },
  };
}
