// The overview: fleet totals, one row per cluster, and what needs attention.
// Refreshed every POLL_SECONDS while shown (polling: see docs/dashboard.md).

import { get } from "./api.js";
import { attentionList } from "./attention.js";
import { card, h, pill, plural, table, timeAgo } from "./dom.js";
import { clusterHash } from "./links.js";

export const POLL_SECONDS = 15;

const sum = (values) => values.reduce((total, value) => total + value, 0);

// Counts by display category ("Workloads 120 · Network 40 …") from counts by kind.
export function byCategory(counts, kinds) {
  const category = Object.fromEntries(kinds.map((kind) => [kind.kind, kind.display.category]));
  const totals = {};
  for (const [kind, count] of Object.entries(counts ?? {})) {
    const name = category[kind] ?? "Other";
    totals[name] = (totals[name] ?? 0) + count;
  }
  return totals;
}

function clusterRow(cluster, kinds) {
  const counts = cluster.resource_counts ?? {};
  const categories = byCategory(counts, kinds);
  return h(
    "tr",
    { "data-cluster-id": cluster.id },
    h("td", {}, h("a", { href: clusterHash(cluster.id), class: "cluster-name" }, cluster.name)),
    h("td", { class: "cluster-status" }, pill(cluster.status)),
    h("td", { class: "cluster-heartbeat" }, cluster.last_heartbeat_at ? ["last heartbeat ", timeAgo(cluster.last_heartbeat_at)] : h("span", { class: "muted" }, "no heartbeat yet")),
    h("td", { class: "cluster-agent" }, cluster.agent_version ?? "—"),
    h("td", { class: "cluster-kubernetes" }, cluster.kubernetes_version ?? "—"),
    h(
      "td",
      { class: "cluster-counts" },
      h("strong", { class: "cluster-total" }, plural(sum(Object.values(counts)), "resource")),
      h("div", { class: "muted small" }, Object.entries(categories).sort(([, a], [, b]) => b - a).map(([name, count]) => `${name} ${count}`).join(" · ")),
    ),
  );
}

function totals(clusters) {
  const status = (name) => clusters.filter((cluster) => cluster.status === name).length;
  const kindTotal = (kind) => sum(clusters.map((cluster) => cluster.resource_counts?.[kind] ?? 0));
  const tiles = [
    ["Clusters", clusters.length, `${status("connected")} connected · ${status("disconnected")} disconnected · ${status("pending")} pending`],
    ["Resources", sum(clusters.map((cluster) => sum(Object.values(cluster.resource_counts ?? {})))), "live, across the fleet"],
    ["Namespaces", kindTotal("Namespace"), ""],
    ["Nodes", kindTotal("Node"), ""],
  ];
  return h(
    "div",
    { class: "tiles" },
    tiles.map(([label, value, note]) => h("div", { class: "tile", "data-tile": label.toLowerCase() }, h("div", { class: "tile-label" }, label), h("div", { class: "tile-value" }, value.toLocaleString("en")), note ? h("div", { class: "muted small" }, note) : null)),
  );
}

async function load() {
  const [clusters, kinds, attention] = await Promise.all([get("/clusters", { limit: 500 }), get("/kinds"), get("/attention")]);
  return { clusters: clusters.items, kinds: kinds.items, attention };
}

function content({ clusters, kinds, attention }, canManage) {
  if (!clusters.length) {
    return [
      h(
        "section",
        { class: "card empty-state" },
        h("h2", {}, "No clusters yet"),
        canManage
          ? [h("p", {}, "Connect your first cluster: the wizard registers it and gives you the commands to install the operator."), h("a", { class: "button", href: "#/onboard" }, "Add a cluster")]
          : h("p", {}, "An admin or owner of your organization connects clusters; ask one to add the first."),
      ),
    ];
  }
  return [
    totals(clusters),
    card("Needs attention", attentionList(attention)),
    card(
      "Clusters",
      table(["Cluster", "Status", "Heartbeat", "Agent", "Kubernetes", "Resources"], clusters.map((cluster) => clusterRow(cluster, kinds)), { class: "clusters" }),
      canManage ? h("p", {}, h("a", { href: "#/onboard" }, "Add a cluster")) : null,
    ),
  ];
}

export async function overview(context) {
  const live = h("div", { class: "live" }, content(await load(), context.canManageClusters));
  context.every(POLL_SECONDS, async () => {
    const fresh = await load();
    if (context.isCurrent()) live.replaceChildren(...content(fresh, context.canManageClusters));
  });
  return h(
    "div",
    { class: "page", "data-title": "Overview" },
    h("div", { class: "page-head" }, h("h1", {}, "Overview"), h("span", { class: "muted small" }, `Refreshes every ${POLL_SECONDS} s`)),
    live,
  );
}
