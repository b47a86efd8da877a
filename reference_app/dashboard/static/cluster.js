// A cluster: status, what needs attention, namespaces by category, nodes, and
// the explorer.  Status, attention and counts refresh every POLL_SECONDS.

import { get, path } from "./api.js";
import { attentionList } from "./attention.js";
import { card, crumbs, h, pill, plural, table, timeAgo } from "./dom.js";
import { FILTERS, filterForm, filtersFrom, resultsSection } from "./explorer.js";
import { clusterHash, overviewHash } from "./links.js";
import { POLL_SECONDS } from "./overview.js";

const CATEGORY_ORDER = ["Workloads", "Network", "Config", "Storage", "RBAC", "Cluster", "Events"];

function statusLine(cluster) {
  return h(
    "p",
    { class: "cluster-facts" },
    pill(cluster.status),
    " ",
    cluster.last_heartbeat_at ? ["last heartbeat ", timeAgo(cluster.last_heartbeat_at)] : "no heartbeat yet",
    ` · agent ${cluster.agent_version ?? "—"} · Kubernetes ${cluster.kubernetes_version ?? "—"}`,
    skippedKinds(cluster.kinds),
  );
}

// Kinds the operator reports it skips (the heartbeat's kinds): why they hold nothing.
const SKIPPED = { not_served: "the cluster does not serve its API (CRD not installed)", forbidden: "RBAC forbids listing it" };

function skippedKinds(kinds) {
  const skipped = Object.entries(kinds ?? {}).filter(([, state]) => state in SKIPPED).sort();
  if (!skipped.length) return null;
  return h(
    "span",
    { class: "skipped-kinds" },
    " · skipped: ",
    skipped.map(([kind, state], index) => [index ? ", " : "", h("span", { title: SKIPPED[state], "data-state": state }, `${kind} (${state.replace("_", " ")})`)]),
  );
}

function namespaceTable(clusterId, summary, kinds) {
  const category = Object.fromEntries(kinds.map((kind) => [kind.kind, kind.display.category]));
  const rows = summary.by_namespace.map((entry) => {
    const counts = {};
    for (const [kind, count] of Object.entries(entry.kinds)) {
      const name = category[kind] ?? "Other";
      counts[name] = (counts[name] ?? 0) + count;
    }
    return h(
      "tr",
      { "data-namespace": entry.namespace },
      h("td", {}, h("a", { href: clusterHash(clusterId, { namespace: entry.namespace }) }, entry.namespace)),
      CATEGORY_ORDER.map((name) => h("td", { class: "quantity" }, counts[name] ? counts[name].toLocaleString("en") : "—")),
      h("td", { class: "quantity" }, entry.count.toLocaleString("en")),
    );
  });
  if (!rows.length) return h("p", { class: "empty" }, "No namespaces reported yet: they arrive with the operator's first snapshot.");
  return table(["Namespace", ...CATEGORY_ORDER, "Total"], rows, { class: "namespaces" });
}

function nodeTable(clusterId, nodes) {
  if (!nodes.items.length) return h("p", { class: "empty" }, "No nodes reported yet.");
  const statusWords = { good: ["Ready"], bad: ["NotReady", "Unknown"] };
  const rows = nodes.items.map((node) => {
    const record = node.object;
    return h(
      "tr",
      { "data-uid": node.uid },
      h("td", {}, h("a", { href: `#${path("clusters", clusterId, "resources", node.uid)}` }, node.name)),
      h("td", {}, pill(record.status, statusWords)),
      h("td", {}, (record.roles ?? []).join(", ") || "—"),
      h("td", {}, record.kubelet_version ?? "—"),
      h("td", {}, [record.cpu_capacity && `${record.cpu_capacity} CPU`, record.memory_capacity, record.pod_capacity && `${record.pod_capacity} pods`].filter(Boolean).join(" · ") || "—"),
      h("td", {}, [record.os_image, record.architecture, record.container_runtime].filter(Boolean).join(" · ") || "—"),
    );
  });
  return [table(["Node", "Status", "Roles", "Kubelet", "Capacity", "System"], rows, { class: "nodes" }), nodes.next_cursor ? h("p", { class: "muted small" }, h("a", { href: clusterHash(clusterId, { kind: "Node" }) }, "All nodes in the explorer")) : null];
}

async function loadLive(clusterId) {
  const [cluster, attention, summary] = await Promise.all([
    get(path("clusters", clusterId)),
    get("/attention", { cluster_id: clusterId }),
    get("/summary", { cluster_id: clusterId }),
  ]);
  return { cluster, attention, summary };
}

// Pods are what most people look for first; otherwise the first kind the cluster has.
function defaultKind(kinds, counts) {
  if (counts.Pod) return "Pod";
  return (kinds.find((kind) => counts[kind.kind]) ?? kinds[0])?.kind;
}

export async function clusterPage(clusterId, context) {
  const [live, kindList, nodes] = await Promise.all([
    loadLive(clusterId),
    get("/kinds"),
    get(`${path("clusters", clusterId)}/resources`, { kind: "Node", limit: 20 }),
  ]);
  const kinds = kindList.items;
  const { cluster } = live;
  const counts = cluster.resource_counts ?? {};
  const filters = filtersFrom(context.params);
  filters.kind ||= defaultKind(kinds, counts);
  const where = path("clusters", clusterId);
  const namespaces = live.summary.by_namespace.map((entry) => entry.namespace);

  const status = h("div", {}, statusLine(cluster));
  const attention = h("div", {}, attentionList(live.attention, { showCluster: false }));
  const namespaceBox = h("div", {}, namespaceTable(clusterId, live.summary, kinds));
  context.every(POLL_SECONDS, async () => {
    const fresh = await loadLive(clusterId);
    if (!context.isCurrent()) return;
    status.replaceChildren(statusLine(fresh.cluster));
    attention.replaceChildren(attentionList(fresh.attention, { showCluster: false }));
    namespaceBox.replaceChildren(namespaceTable(clusterId, fresh.summary, kinds));
  });

  const results = await resultsSection({
    listPath: `${where}/resources`,
    where,
    params: context.params,
    filters,
    kinds,
    counts,
    emptyHelp: (kind) => [
      h("p", {}, `No ${kind?.kind ?? "resources"} in this cluster${filters.as_of ? " at that time" : ""}.`),
      h("p", { class: "muted" }, "The operator sends every kind it is allowed to list; pick another kind above, or check the operator's --kinds and RBAC."),
    ],
  });
  const explorerOpen = FILTERS.some((name) => context.params.get(name));
  return h(
    "div",
    { class: "page", "data-title": cluster.name },
    crumbs(["Overview", overviewHash()], [cluster.name]),
    h("div", { class: "page-head" }, h("h1", {}, cluster.name), h("span", { class: "muted small" }, `Refreshes every ${POLL_SECONDS} s`)),
    status,
    card("Needs attention", attention),
    card(`Namespaces (${plural(namespaces.length, "namespace")})`, namespaceBox),
    card("Nodes", nodeTable(clusterId, nodes)),
    h(
      "section",
      { class: "card explorer", id: "explorer", "data-open": explorerOpen ? "true" : "false" },
      h("h2", {}, "Explorer"),
      filterForm({ where, kinds, counts, filters, namespaces }),
      results,
    ),
  );
}
