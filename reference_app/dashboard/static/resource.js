// One resource: metadata, labels, status and conditions, containers, volumes,
// related objects, history with readable value diffs, and the record as JSON.

import { get, path } from "./api.js";
import { card, crumbs, display, h, pill, table, timeAgo } from "./dom.js";
import { clusterHash, overviewHash, resourceHash } from "./links.js";

const DIFF_SHOWN = 30;
const CONDITION_WORDS = { good: ["True"], bad: ["False"], warn: ["Unknown"] };

function json(value) {
  return h("pre", { class: "json", tabindex: "0" }, JSON.stringify(value, null, 2));
}

function chips(map) {
  const entries = Object.entries(map ?? {});
  if (!entries.length) return h("span", { class: "muted" }, "none");
  return h("ul", { class: "labels" }, entries.map(([key, value]) => h("li", { class: "label" }, `${key}=${value}`)));
}

function facts(resource) {
  const record = resource.object ?? {};
  const rows = [
    ["Kind", resource.kind],
    ["Namespace", resource.namespace ?? "— (cluster-scoped)"],
    ["UID", resource.uid],
    ["Created in Kubernetes", record.k8s_created_at ? timeAgo(record.k8s_created_at) : "—"],
    ["First seen", timeAgo(resource.first_seen_at)],
    ["Last changed", timeAgo(resource.updated_at)],
    ["Deleted", resource.deleted_at ? timeAgo(resource.deleted_at) : "no"],
    ["Labels", chips(resource.labels)],
    ["Annotations", chips(resource.annotations)],
  ];
  for (const name of ["phase", "status", "node_name", "service_account", "pod_ip", "qos_class"]) {
    if (record[name] !== undefined) rows.push([name.replaceAll("_", " "), display(record[name])]);
  }
  return h("dl", { class: "facts" }, rows.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

function conditions(record) {
  if (!Array.isArray(record.conditions) || !record.conditions.length) return null;
  return card("Conditions", table(["Type", "Status"], record.conditions.map((c) => h("tr", {}, h("td", {}, display(c.type)), h("td", {}, pill(c.status, CONDITION_WORDS))))));
}

function containers(record) {
  const all = [...(record.init_containers ?? []).map((c) => ({ ...c, init: true })), ...(record.containers ?? [])];
  if (!all.length) return null;
  const resources = (r = {}) => [r.cpu_request && `cpu ${r.cpu_request}`, r.cpu_limit && `≤ ${r.cpu_limit}`, r.memory_request && `mem ${r.memory_request}`, r.memory_limit && `≤ ${r.memory_limit}`].filter(Boolean).join(" · ") || "—";
  const rows = all.map((c) =>
    h(
      "tr",
      { "data-container": c.name },
      h("td", {}, display(c.name), c.init ? h("span", { class: "muted small" }, " (init)") : null),
      h("td", { class: "image" }, display(c.image)),
      h("td", {}, pill(c.ready ? "ready" : "not ready", { good: ["ready"], bad: ["not ready"] })),
      h("td", {}, [display(c.state), c.reason ? ` (${c.reason})` : ""]),
      h("td", { class: "quantity" }, display(c.restart_count)),
      h("td", {}, resources(c.resources)),
    ),
  );
  return card("Containers", table(["Name", "Image", "Ready", "State", "Restarts", "Requests and limits"], rows, { class: "containers" }));
}

function volumes(record) {
  if (!Array.isArray(record.volumes) || !record.volumes.length) return null;
  return card("Volumes", table(["Name", "Type", "Source"], record.volumes.map((v) => h("tr", {}, h("td", {}, display(v.name)), h("td", {}, display(v.type)), h("td", {}, display(v.source))))));
}

const RELATIONS = [
  ["owners", "Owned by"],
  ["owned", "Owns"],
  ["selects", "Selects"],
  ["selected_by", "Selected by"],
  ["routes", "Traffic"],
  ["uses", "Uses"],
  ["used_by", "Used by"],
];

function relatedItem(clusterId, item) {
  const label = `${item.kind} ${item.namespace && item.kind !== "Node" ? `${item.namespace}/` : ""}${item.name}`;
  return h("li", { "data-kind": item.kind, "data-name": item.name }, item.uid && !item.missing ? h("a", { href: resourceHash(clusterId, item.uid) }, label) : [label, h("span", { class: "muted small" }, " (not in the inventory)")]);
}

function related(clusterId, answer) {
  const groups = RELATIONS.filter(([name]) => answer[name]?.length).map(([name, title]) =>
    h("div", { class: "relation", "data-relation": name }, h("h3", {}, title), h("ul", {}, answer[name].map((item) => relatedItem(clusterId, item)))),
  );
  const events = answer.events.length
    ? table(
        ["Last seen", "Type", "Reason", "Message", "Count"],
        answer.events.map((e) => h("tr", { "data-uid": e.uid }, h("td", {}, e.event.last_timestamp ? timeAgo(e.event.last_timestamp) : "—"), h("td", {}, pill(e.event.type, { warn: ["Warning"], good: ["Normal"] })), h("td", {}, display(e.event.reason)), h("td", {}, display(e.event.message)), h("td", { class: "quantity" }, display(e.event.count)))),
        { class: "events" },
      )
    : h("p", { class: "muted" }, "No events involve it.");
  return [
    card("Related objects", groups.length ? h("div", { class: "relations" }, groups) : h("p", { class: "muted" }, "Nothing in the inventory points at it, and it points at nothing.")),
    h("section", { class: "card", id: "events" }, h("h2", {}, "Events"), events),
  ];
}

function valueText(value) {
  return value === undefined ? "∅" : typeof value === "object" ? JSON.stringify(value) : String(value);
}

// One value change as a line: "replicas: 2 → 3", "+ labels.team: payments", list entries ±.
function changeLine(change) {
  const parts = [];
  if ("added" in change || "removed" in change) {
    for (const item of change.removed ?? []) parts.push(h("li", { class: "diff-removed" }, `− ${change.path}: ${valueText(item)}`));
    for (const item of change.added ?? []) parts.push(h("li", { class: "diff-added" }, `+ ${change.path}: ${valueText(item)}`));
    return parts;
  }
  if (!("old" in change)) return h("li", { class: "diff-added" }, `+ ${change.path}: ${valueText(change.new)}`);
  if (!("new" in change)) return h("li", { class: "diff-removed" }, `− ${change.path}: ${valueText(change.old)}`);
  return h("li", { class: "diff-changed" }, `${change.path}: `, h("del", {}, valueText(change.old)), " → ", h("ins", {}, valueText(change.new)));
}

function diffList(version) {
  if (version.change === "added" && version.version === 1) return h("p", { class: "muted small" }, "First seen: the whole record.");
  if (version.change === "deleted") return h("p", { class: "muted small" }, "Deleted from the cluster.");
  const lines = version.diff.values.flatMap((change) => changeLine(change));
  if (!lines.length) return h("p", { class: "muted small" }, "No value changed.");
  const shown = lines.slice(0, DIFF_SHOWN);
  if (lines.length > DIFF_SHOWN) shown.push(h("li", { class: "muted" }, `… and ${lines.length - DIFF_SHOWN} more`));
  return h("ul", { class: "diff" }, shown);
}

function versionItem(version) {
  return h(
    "li",
    { class: "version", "data-version": version.version },
    h("div", { class: "version-head" }, h("strong", {}, `v${version.version}`), " ", pill(version.change, { good: ["added"], warn: ["modified"], bad: ["deleted"] }), " ", timeAgo(version.changed_at)),
    diffList(version),
    version.object ? h("details", {}, h("summary", {}, "The record as of this version"), json(version.object)) : null,
  );
}

export async function resourceDetail(clusterId, uid, context) {
  const resourcePath = path("clusters", clusterId, "resources", uid);
  const [cluster, resource, history, relatedAnswer] = await Promise.all([
    get(path("clusters", clusterId)),
    get(resourcePath),
    get(`${resourcePath}/history`),
    get(`${resourcePath}/related`),
  ]);
  const record = resource.object ?? {};
  return h(
    "div",
    { class: "page resource", "data-title": `${resource.kind} ${resource.name}` },
    crumbs(["Overview", overviewHash()], [cluster.name, clusterHash(clusterId)], [resource.kind, clusterHash(clusterId, { kind: resource.kind, namespace: resource.namespace ?? "" })], [resource.name]),
    h("h1", { class: "resource-title" }, h("span", { class: "muted" }, `${resource.kind} `), resource.name, resource.deleted_at ? [" ", pill("deleted")] : null),
    card("Overview", facts(resource)),
    conditions(record),
    containers(record),
    volumes(record),
    related(clusterId, relatedAnswer),
    h("section", { class: "card", id: "history" }, h("h2", {}, `History (${history.items.length} version${history.items.length === 1 ? "" : "s"}, newest first)`), h("ul", { class: "history" }, [...history.items].reverse().map(versionItem))),
    h("section", { class: "card" }, h("h2", {}, "Record (JSON)"), json(record)),
  );
}
