// The organization's clusters: status, last heartbeat, agent, resource counts.

import { get, path } from "./api.js";
import { h, pill, plural, timeAgo } from "./dom.js";
import { pager } from "./pager.js";

function total(counts) {
  return Object.values(counts).reduce((sum, count) => sum + count, 0);
}

// "Pod 120 · Service 40 · ConfigMap 33 …": the biggest kinds first.
function topKinds(counts, shown = 4) {
  const sorted = Object.entries(counts).sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  const text = sorted.slice(0, shown).map(([kind, count]) => `${kind} ${count}`).join(" · ");
  return sorted.length > shown ? `${text} …` : text;
}

function clusterRow(cluster) {
  const counts = cluster.resource_counts ?? {};
  return h(
    "tr",
    { "data-cluster-id": cluster.id },
    h("td", {}, h("a", { href: `#${path("clusters", cluster.id)}`, class: "cluster-name" }, cluster.name)),
    h("td", { class: "cluster-status" }, pill(cluster.status)),
    h("td", { class: "cluster-heartbeat" }, timeAgo(cluster.last_heartbeat_at)),
    h("td", { class: "cluster-agent" }, cluster.agent_version ?? "—"),
    h("td", { class: "cluster-kubernetes" }, cluster.kubernetes_version ?? "—"),
    h(
      "td",
      { class: "cluster-counts" },
      h("strong", { class: "cluster-total" }, plural(total(counts), "resource")),
      h("div", { class: "muted small" }, topKinds(counts)),
    ),
  );
}

export async function clusterList(context) {
  const first = await get("/clusters");
  const body = h("tbody");
  const table = h(
    "table",
    { class: "data clusters" },
    h("thead", {}, h("tr", {}, ["Cluster", "Status", "Last heartbeat", "Agent", "Kubernetes", "Resources"].map((title) => h("th", {}, title)))),
    body,
  );
  const more = pager(first, body, clusterRow, (cursor) => get("/clusters", { cursor }), context);
  const empty = h(
    "p",
    { class: "empty" },
    "No clusters yet. Register one with ",
    h("code", {}, "obsyk clusters register"),
    " and install the operator in it.",
  );
  return h(
    "section",
    { class: "card" },
    h("h1", {}, "Clusters"),
    first.items.length ? [table, more] : empty,
  );
}
