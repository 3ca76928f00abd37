// What the server keeps a list of and the page lets people delete: a project's secrets, registries
// and schedules, a user's API tokens.
import { api } from "./api.js";
import { errorText, h } from "./dom.js";

/**
 * A <ul class="{kind}"> of what GET `path` answers under `kind`, each item an <li> with
 * `attributes(item)`, what `show(item)` gives, and (if `deletes`) a button `label(item)` that sends
 * DELETE to `path`/`id(item)`, calls `deleted(item)` and draws the list again. With no items it
 * says `empty`, if given. Failures go to `problem`. Returns the list, `draw()` to draw it again,
 * and `drawn`, the first drawing.
 */
export function deletableList(path, kind, problem,
                              { id, show, label, attributes = () => ({}), empty = null, deletes = true,
                                deleted = () => {} }) {
  const list = h("ul", { class: kind });

  function item(each) {
    return h("li", attributes(each), show(each), " ",
      deletes ? h("button", { type: "button", class: "danger", onclick: async () => {
        await api("DELETE", `${path}/${encodeURIComponent(id(each))}`).catch((e) => errorText(problem, e));
        deleted(each);
        draw().catch((e) => errorText(problem, e));
      } }, label(each)) : null);
  }

  async function draw() {
    const items = (await api("GET", path))[kind];
    list.replaceChildren(...(items.length || empty === null ? items.map(item) : [h("li", { class: "muted" }, empty)]));
  }

  return { list, draw, drawn: draw().catch((e) => errorText(problem, e)) };
}
