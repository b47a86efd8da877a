// One resource: its record as the operator sent it, and every kept version with its diff.

import { get, path } from "./api.js";
import { h, pill, timeAgo } from "./dom.js";
import { inventoryHash } from "./inventory.js";

const DIFF_SHOWN = 20;

function json(value) {
  return h("pre", { class: "json" }, JSON.stringify(value, null, 2));
}

function labels(map) {
  const entries = Object.entries(map ?? {});
  if (!entries.length) return h("span", { class: "muted" }, "none");
  return h("ul", { class: "labels" }, entries.map(([key, value]) => h("li", { class: "label" }, `${key}=${value}`)));
}

function diffList(version) {
  // The first version "adds" every field; saying so is clearer than listing them.
  if (version.change === "added" && version.version === 1) {
    return h("p", { class: "muted small" }, "First seen: the whole record.");
  }
  const { diff } = version;
  const lines = [
    ...diff.added.map((field) => ["added", "+", field]),
    ...diff.removed.map((field) => ["removed", "−", field]),
    ...diff.changed.map((field) => ["changed", "~", field]),
  ];
  if (!lines.length) return h("p", { class: "muted small" }, "No field changed.");
  const shown = lines.slice(0, DIFF_SHOWN).map(([tone, sign, field]) => h("li", { class: `diff-${tone}` }, `${sign} ${field}`));
  if (lines.length > DIFF_SHOWN) shown.push(h("li", { class: "muted" }, `… and ${lines.length - DIFF_SHOWN} more`));
  return h("ul", { class: "diff" }, shown);
}

function versionItem(version) {
  return h(
    "li",
    { class: "version", "data-version": version.version },
    h("div", { class: "version-head" }, h("strong", {}, `v${version.version}`), " ", pill(version.change), " ", timeAgo(version.changed_at)),
    diffList(version),
    version.object
      ? h("details", {}, h("summary", {}, "Record at this version"), json(version.object))
      : null,
  );
}

export async function resourceDetail(clusterId, uid, context) {
  const resourcePath = path("clusters", clusterId, "resources", uid);
  const [cluster, resource, history] = await Promise.all([
    get(path("clusters", clusterId)),
    get(resourcePath),
    get(`${resourcePath}/history`),
  ]);
  const facts = [
    ["Kind", resource.kind],
    ["Namespace", resource.namespace ?? "— (cluster-scoped)"],
    ["UID", resource.uid],
    ["First seen", timeAgo(resource.first_seen_at)],
    ["Updated", timeAgo(resource.updated_at)],
    ["Deleted", resource.deleted_at ? timeAgo(resource.deleted_at) : "no"],
    ["Labels", labels(resource.labels)],
  ];
  return h(
    "section",
    { class: "card resource" },
    h(
      "nav",
      { class: "crumbs" },
      h("a", { href: "#/" }, "Clusters"),
      " / ",
      h("a", { href: inventoryHash(clusterId, {}) }, cluster.name),
      " / ",
      h("a", { href: inventoryHash(clusterId, { kind: resource.kind, namespace: resource.namespace }) }, resource.kind),
      " / ",
      resource.name,
    ),
    h("h1", { class: "resource-title" }, resource.name, resource.deleted_at ? [" ", pill("deleted")] : null),
    h("dl", { class: "facts" }, facts.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])),
    h("h2", {}, "Record"),
    json(resource.object),
    h("h2", {}, `History (${history.items.length} version${history.items.length === 1 ? "" : "s"}, newest first)`),
    h("ul", { class: "history" }, [...history.items].reverse().map(versionItem)),
  );
}
