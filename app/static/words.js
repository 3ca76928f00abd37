// The statuses, events, roles and scopes as the server spells them (app/records/words.py), read from
// the page it served: the dashboard spells none of them itself.
export const { Status, Event, ForkPolicy, Role, Scope, AppBuildStatus } =
  JSON.parse(document.getElementById("words").textContent);
